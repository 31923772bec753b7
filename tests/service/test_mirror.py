"""The mirror service on its own, over a fake index service: how many transfers run at once.

(`rennet mirror` against a fake upstream: tests/web/test_mirror.py; installing what it fetched: tests/e2e.)
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.indexes import IndexConfig, IndexKind, ProxyIndex
from rennet.domain.mirror.lockfiles import LockedFile
from rennet.domain.mirror.plan import MirrorOptions
from rennet.domain.mirror.targets import make_targets
from rennet.domain.names import NormalizedName, canonical_name
from rennet.service.answers import FileAnswer, Listing, LocalFile
from rennet.service.indexes.interface import IndexService
from rennet.service.offline.mirror import LockedItem, Mirror, MirrorInputs
from rennet.service.runtime.pagecache import CachedPage
from tests.support.upstream import NOWHERE


class CountingIndex:
    """An index service whose files are held at once, after a few turns of the event loop; it counts transfers
    in flight. It has no upstream to ask and no .metadata files (its pages offer none)."""

    name: str = "fake"
    kind: IndexKind = IndexKind.PROXY
    holds_uploads: bool = False

    def __init__(self, directory: Path, files: int) -> None:
        self.blob = directory / "blob"
        self.blob.write_bytes(b"x")
        wheels = [f"proj-1.{n}-py3-none-any.whl" for n in range(files)]
        digest = hashlib.sha256(b"x").hexdigest()
        self.page = ProjectPage(
            canonical_name("proj"), tuple(DistFile(w, "fake", {"sha256": digest}) for w in wheels)
        )
        self.in_flight = self.most = 0
        self.opened: list[str] = []

    @property
    def config(self) -> IndexConfig:
        return ProxyIndex(self.name, upstream=NOWHERE)  # never asked

    async def project_page(self, project: str) -> CachedPage:
        return CachedPage(self.page if project == "proj" else None, (), 0.0, None, message="no such project")

    async def open_file(self, project: str, filename: str) -> FileAnswer:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        self.in_flight -= 1
        self.opened.append(filename)
        return LocalFile(self.blob, 1, hashlib.sha256(b"x").hexdigest())

    async def open_metadata(self, project: str, filename: str) -> FileAnswer:
        raise AssertionError(f"{filename}: the page offers no .metadata, so none may be asked for")

    async def provenance(self, project: str, filename: str) -> bytes:
        raise AssertionError("a mirror never reads provenance")

    async def listing(self) -> Listing:
        raise AssertionError("a mirror never reads the project list")


def pinned(project: NormalizedName, file: DistFile) -> LockedFile:
    """A lock file's entry for exactly this file."""
    assert file.version is not None and file.sha256 is not None
    return LockedFile(project, file.version, file.filename, file.sha256, None, "wheel", None, None)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_transfers_are_bounded_by_the_concurrency(tmp_path: Path, concurrency: int) -> None:
    index = CountingIndex(tmp_path, files=12)
    service: IndexService = index
    locked = tuple(LockedItem("pylock.toml", pinned(index.page.name, file)) for file in index.page.files)
    options = MirrorOptions(make_targets(["3.11"], ["manylinux_2_28_x86_64"]))
    report = asyncio.run(Mirror(service, options, concurrency).run(MirrorInputs(locked=locked)))
    assert report.count("cached") == 12 and report.ok, report
    assert sorted(index.opened) == sorted(f.filename for f in index.page.files)
    assert index.most == concurrency
