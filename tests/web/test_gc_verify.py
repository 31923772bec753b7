"""`rennet gc` removes what nothing refers to once old enough, and nothing else; `rennet verify` finds bytes that
no longer match their sha256 and takes them out of service, while a server runs."""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

from tests.support.dists import Dist, make_wheel
from tests.support.server import LocalServer, Server
from tests.support.store import blob_path, cli, file_row, query, wait_until_held
from tests.support.upstream import FakeUpstream

HOURS = 3600


def orphan(server: Server, data: bytes, age: float) -> Path:
    """A blob nothing refers to, last modified `age` seconds ago."""
    path = blob_path(server, hashlib.sha256(data).hexdigest())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    _age(path, age)
    return path


def temporary(server: Server, name: str, age: float) -> Path:
    path = server.data_dir / "tmp" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(1000))
    _age(path, age)
    return path


def _age(path: Path, age: float) -> None:
    moment = time.time() - age
    os.utime(path, (moment, moment))


def fetch(server: Server, dist: Dist, index: str = "pypi") -> bytes:
    response = server.get(f"/{index}/files/{dist.project}/{dist.filename}")
    assert response.status_code == 200, response.text
    wait_until_held(server, dist.filename, dist.sha256)
    return response.content


def flip_a_byte(path: Path, offset: int = 100) -> None:
    with path.open("r+b") as file:  # in place, as a failing disk would: the same inode
        file.seek(offset)
        byte = file.read(1)
        file.seek(offset)
        file.write(bytes([byte[0] ^ 0x01]))


# -- gc ----------------------------------------------------------------------------------------------------------------


def test_gc_removes_old_orphans_and_stale_temporaries_only(rennet: LocalServer, upstream: FakeUpstream) -> None:
    wheel = make_wheel("referenced", "1.0")
    upstream.add(wheel)
    fetch(rennet, wheel)
    referenced = blob_path(rennet, wheel.sha256)
    fetch_metadata = rennet.get(f"/pypi/files/referenced/{wheel.filename}.metadata")
    assert fetch_metadata.status_code == 200
    metadata = blob_path(rennet, hashlib.sha256(fetch_metadata.content).hexdigest())
    _age(referenced, 5 * HOURS)
    _age(metadata, 5 * HOURS)
    old, young = orphan(rennet, b"old orphan" * 100, 2 * HOURS), orphan(rennet, b"young orphan", 60)
    stale, fresh = temporary(rennet, "blob-stale.part", 2 * HOURS), temporary(rennet, "blob-fresh.part", 60)
    running = temporary(rennet, "downloads/0123abcd.part", 2 * HOURS)
    lock = os.open(running.with_suffix(".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # as the process downloading it holds it
    try:
        dry = cli(rennet, "gc", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "would remove 1 unreferenced stored file(s) (1000 B); kept 1 younger than 1h" in dry.stdout
        assert "would remove 1 stale temporary file(s)" in dry.stdout
        assert all(p.exists() for p in (old, young, stale, fresh, running, referenced, metadata))

        done = cli(rennet, "gc")
        assert done.returncode == 0, done.stderr
        assert "removed 1 unreferenced stored file(s) (1000 B); kept 1 younger than 1h" in done.stdout
        assert "removed 1 stale temporary file(s) (1000 B)" in done.stdout
        assert not old.exists() and not stale.exists()
        assert all(p.exists() for p in (young, fresh, running, referenced, metadata))
        assert running.with_suffix(".lock").exists()
    finally:
        os.close(lock)
    assert fetch(rennet, wheel) == wheel.data
    assert upstream.requests[f"/files/{wheel.filename}"] == 1


def test_gc_removes_the_bytes_of_pruned_files_after_the_grace(rennet: LocalServer, upstream: FakeUpstream) -> None:
    wheel = make_wheel("pruned", "1.0")
    upstream.add(wheel, make_wheel("pruned", "2.0"))
    fetch(rennet, wheel)
    upstream.remove(wheel.filename)
    pruned = cli(rennet, "refresh", "--older-than", "0s", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 1 file(s) gone upstream" in pruned.stdout
    kept = cli(rennet, "gc")
    assert kept.returncode == 0, kept.stderr
    assert "kept 1 younger than 1h" in kept.stdout
    assert blob_path(rennet, wheel.sha256).exists()
    done = cli(rennet, "gc", "--grace", "0s")
    assert done.returncode == 0, done.stderr
    assert "removed 1 unreferenced stored file(s)" in done.stdout
    assert not blob_path(rennet, wheel.sha256).exists()


def test_gc_forgets_expired_no_such_project_entries(rennet: LocalServer) -> None:
    """Each name anyone asks for and the upstream lacks leaves a row: gc drops those no longer believed."""
    for name in ("typo-one", "typo-two", "typo-three", "typo-young"):
        assert rennet.get(f"/pypi/simple/{name}/").status_code == 404
    # A missing project that still has file rows (listed once, then gone upstream) keeps them, and its row.
    query(
        rennet,
        "INSERT INTO projects (index_name, name, display_name, missing, serial, created_at, fetched_at) "
        "VALUES ('pypi', 'had-files', 'had-files', true, 0, 0, 0)",
    )
    query(
        rennet,
        "INSERT INTO files (project_id, filename, hashes, yanked, gone, created_at) SELECT id, "
        "'had_files-1.0.tar.gz', '{}', false, false, 0 FROM projects WHERE name = 'had-files'",
    )
    # Older than the index's negative_ttl (60s by default), but for typo-young.
    query(
        rennet, "UPDATE projects SET fetched_at = fetched_at - 7200 WHERE name LIKE 'typo-%' AND name != 'typo-young'"
    )

    dry = cli(rennet, "gc", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert 'would remove 3 expired "no such project" entries' in dry.stdout
    assert len(missing_rows(rennet)) == 5

    done = cli(rennet, "gc")
    assert done.returncode == 0, done.stderr
    assert 'removed 3 expired "no such project" entries' in done.stdout
    assert missing_rows(rennet) == ["had-files", "typo-young"]
    assert 'removed 0 expired "no such project" entries' in cli(rennet, "gc").stdout
    assert rennet.get("/pypi/simple/typo-one/").status_code == 404


def missing_rows(server: Server) -> list[str]:
    return sorted(name for (name,) in query(server, "SELECT name FROM projects WHERE missing"))


def test_gc_refuses_a_bad_grace(rennet: LocalServer) -> None:
    done = cli(rennet, "gc", "--grace", "a while")
    assert done.returncode == 2
    assert "--grace: 'a while' is not a duration" in done.stderr


# -- verify ------------------------------------------------------------------------------------------------------------


def test_verify_quarantines_a_corrupt_proxy_file_which_is_fetched_again(
    rennet: LocalServer, upstream: FakeUpstream
) -> None:
    wheel, other = make_wheel("rotten", "1.0", padding=200_000), make_wheel("sound", "1.0")
    upstream.add(wheel, other)
    fetch(rennet, wheel)
    fetch(rennet, wheel)  # in the worker's held-file cache
    fetch(rennet, other)
    assert cli(rennet, "verify").returncode == 0
    flip_a_byte(blob_path(rennet, wheel.sha256))

    done = cli(rennet, "verify")
    assert done.returncode == 1
    quarantined = rennet.data_dir / "quarantine" / wheel.sha256
    assert f"BAD: stored file {wheel.sha256} is corrupt, moved to {quarantined}" in done.stderr
    assert f"pypi/rotten/{wheel.filename}: will be fetched again from the upstream" in done.stderr
    assert "1 corrupt (quarantined), 0 missing" in done.stdout
    assert quarantined.is_file() and hashlib.sha256(quarantined.read_bytes()).hexdigest() != wheel.sha256
    assert not blob_path(rennet, wheel.sha256).exists()

    assert fetch(rennet, wheel) == wheel.data  # the running server forgot the bad copy at once
    assert upstream.count(f"/files/{wheel.filename}") == 2
    assert fetch(rennet, other) == other.data and upstream.count(f"/files/{other.filename}") == 1
    again = cli(rennet, "verify")
    assert again.returncode == 0, again.stderr
    assert "all good" in again.stdout


def test_verify_reports_a_corrupt_hosted_file_which_becomes_unavailable(rennet: LocalServer, tmp_path: Path) -> None:
    wheel = make_wheel("private-thing", "1.0")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / wheel.filename).write_bytes(wheel.data)
    imported = cli(rennet, "import", str(tmp_path / "in"), "--index", "local")
    assert imported.returncode == 0, imported.stderr
    url = f"/local/files/private-thing/{wheel.filename}"
    assert rennet.get(url).content == wheel.data
    flip_a_byte(blob_path(rennet, wheel.sha256))

    done = cli(rennet, "verify", "--index", "local")
    assert done.returncode == 1
    assert f"local/private-thing/{wheel.filename}: UNAVAILABLE until it is uploaded again" in done.stderr
    assert rennet.get(url).status_code == 404
    assert file_row(rennet, wheel.filename)["blob_sha256"] is None


def test_verify_reports_a_missing_blob(rennet: LocalServer, upstream: FakeUpstream) -> None:
    wheel = make_wheel("lost", "1.0")
    upstream.add(wheel)
    fetch(rennet, wheel)
    blob_path(rennet, wheel.sha256).unlink()
    done = cli(rennet, "verify", "--index", "pypi")
    assert done.returncode == 1
    assert f"BAD: stored file {wheel.sha256} is missing" in done.stderr
    assert "0 corrupt (quarantined), 1 missing" in done.stdout
    assert file_row(rennet, wheel.filename)["blob_sha256"] is None
    assert fetch(rennet, wheel) == wheel.data


def test_verify_refuses_unknown_indexes(rennet: LocalServer) -> None:
    for index, message in (("nowhere", "there is no index named 'nowhere'"), ("default", "default is a group")):
        done = cli(rennet, "verify", "--index", index)
        assert done.returncode == 2
        assert message in done.stderr
