"""Eviction on a real store: a blob that something starts using while a pass deletes others is kept."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.names import NormalizedName
from rennet.domain.validators import UpstreamValidators
from rennet.service.upkeep.eviction import evict
from rennet.storage.store import Store, open_store

# Two files' bytes, in the order a pass deletes their blobs (by sha256).
FIRST, SECOND = sorted((b"one " * 100, b"two " * 100), key=lambda data: hashlib.sha256(data).hexdigest())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'rennet.sqlite3'}")
    yield opened
    opened.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hold(store: Store, index: str, filename: str, data: bytes, used_at: float) -> None:
    """A file of `index` whose bytes are held, last sent at `used_at`, as a download leaves it."""
    file = DistFile(filename, index, {"sha256": sha(data)}, source_url=f"https://files.test/{filename}")
    record = store.catalog.project(index, "foo")
    listed = store.catalog.page(record).files if record else ()
    page = ProjectPage(NormalizedName("foo"), (*listed, file))
    store.catalog.store_upstream_page(index, "foo", page, UpstreamValidators(), 1.0)
    store.blobs.put_bytes(data)
    found = store.catalog.file(index, "foo", filename)
    assert found is not None
    store.catalog.record_blob(found, sha(data), len(data), used_at)
    with store.catalog.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE files SET last_access = ? WHERE filename = ?", (used_at, filename))


def while_deleting_the_first_blob(store: Store, monkeypatch: pytest.MonkeyPatch, act: Callable[[], None]) -> None:
    """Run `act` the moment the pass turns to the first blob it deletes, as another process would."""
    path_for = store.blobs.path_for
    acted: list[bool] = []

    def spy(sha256: str) -> Path:
        if sha256 == sha(FIRST) and not acted:
            acted.append(True)
            act()
        return path_for(sha256)

    monkeypatch.setattr(store.blobs, "path_for", spy)


def test_a_blob_referred_to_meanwhile_is_kept(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    hold(store, "pypi", "foo-1.0.tar.gz", FIRST, used_at=100.0)
    hold(store, "pypi", "foo-2.0.tar.gz", SECOND, used_at=200.0)
    # Another index records the same bytes as the second file while the pass deletes the first blob.
    while_deleting_the_first_blob(
        store, monkeypatch, lambda: hold(store, "twin", "foo-2.0.tar.gz", SECOND, used_at=300.0)
    )
    eviction = evict(store, "pypi", limit=0)
    assert sorted(f.filename for f in eviction.files) == ["foo-1.0.tar.gz", "foo-2.0.tar.gz"]
    assert not store.blobs.exists(sha(FIRST))
    assert store.blobs.exists(sha(SECOND)), "twin's file refers to it"
    assert eviction.blobs_deleted == 1


def test_a_blob_written_since_the_pass_began_is_kept(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    hold(store, "pypi", "foo-1.0.tar.gz", FIRST, used_at=100.0)
    hold(store, "pypi", "foo-2.0.tar.gz", SECOND, used_at=200.0)
    old_enough = time.time() - 60
    for data in (FIRST, SECOND):
        os.utime(store.blobs.path_for(sha(data)), (old_enough, old_enough))

    def publish_again() -> None:
        # An upload of the same bytes: its blob is published now, its catalog row written a moment later.
        store.blobs.put_bytes(SECOND)
        now = time.time_ns()  # the file system's clock may lag time.time() by a tick: say "now" exactly
        os.utime(store.blobs.path_for(sha(SECOND)), ns=(now, now))

    while_deleting_the_first_blob(store, monkeypatch, publish_again)
    eviction = evict(store, "pypi", limit=0)
    assert len(eviction.files) == 2
    assert not store.blobs.exists(sha(FIRST))
    assert store.blobs.exists(sha(SECOND)), "the upload's blob, not yet recorded, was kept"
