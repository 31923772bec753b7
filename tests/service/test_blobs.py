"""The content-addressed blob store: nothing is visible until it is complete and verified."""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
from pathlib import Path

import pytest

from rennet.storage.blobs import DigestMismatch, LocalBlobStore, is_sha256, remove_abandoned

DATA = b"wheel bytes " * 1000
SHA = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()  # indexes still publish md5


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")


def temp_files(store: LocalBlobStore) -> list[Path]:
    """Temporary files left, besides the lock that says this process owns its temporary directory."""
    return [path for path in store.temp_dir.iterdir() if path.name != "owner.lock"]


def blobs(store: LocalBlobStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()]


def test_put_bytes_names_the_blob_by_its_sha256(store: LocalBlobStore) -> None:
    assert store.put_bytes(DATA) == SHA
    path = store.root / SHA[:2] / SHA[2:4] / SHA
    assert store.path_for(SHA) == path
    assert path.read_bytes() == DATA
    assert store.exists(SHA)
    assert store.local_path(SHA) == path
    assert store.size(SHA) == len(DATA)
    with store.open(SHA) as handle:
        assert handle.read() == DATA
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert temp_files(store) == []


def test_nothing_is_visible_before_commit(store: LocalBlobStore) -> None:
    writer = store.writer()
    writer.write(DATA[:100])
    assert not store.exists(SHA)
    assert blobs(store) == []
    assert temp_files(store) == [writer.temp_path]
    writer.write(DATA[100:])
    assert blobs(store) == []
    assert writer.size == len(DATA)
    assert writer.commit() == SHA
    assert blobs(store) == [store.path_for(SHA)]
    assert temp_files(store) == []


def test_commit_checks_every_expected_hash(store: LocalBlobStore) -> None:
    writer = store.writer(("md5",))
    writer.write(DATA)
    assert writer.hexdigests() == {"sha256": SHA, "md5": MD5}
    assert writer.commit({"sha256": SHA.upper(), "md5": MD5}) == SHA


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_mismatch_stores_nothing_and_removes_the_temporary_file(store: LocalBlobStore, algorithm: str) -> None:
    writer = store.writer(("md5",))
    writer.write(DATA)
    expected = {"sha256": SHA, "md5": MD5} | {algorithm: "0" * len({"sha256": SHA, "md5": MD5}[algorithm])}
    with pytest.raises(DigestMismatch) as caught:
        writer.commit(expected)
    assert caught.value.algorithm == algorithm
    assert caught.value.expected == expected[algorithm]
    assert caught.value.actual == {"sha256": SHA, "md5": MD5}[algorithm]
    assert algorithm in str(caught.value)
    assert blobs(store) == []
    assert temp_files(store) == []
    assert not store.exists(SHA)


def test_put_bytes_checks_hashes_it_was_not_asked_to_compute(store: LocalBlobStore) -> None:
    with pytest.raises(DigestMismatch):
        store.put_bytes(DATA, {"md5": "0" * 32})
    assert blobs(store) == []
    assert store.put_bytes(DATA, {"md5": MD5, "sha512": hashlib.sha512(DATA).hexdigest()}) == SHA


def test_unknown_hash_names_from_an_index_are_ignored(store: LocalBlobStore) -> None:
    writer = store.writer(("no-such-hash", "shake_128", "md5"))
    writer.write(DATA)
    assert writer.commit({"no-such-hash": "whatever", "shake_128": "whatever", "md5": MD5}) == SHA


def test_blake2b_256_is_pypis_32_byte_blake2b(store: LocalBlobStore) -> None:
    writer = store.writer(("blake2b_256",))
    writer.write(DATA)
    expected = hashlib.blake2b(DATA, digest_size=32).hexdigest()
    assert writer.hexdigests()["blake2b_256"] == expected
    with pytest.raises(DigestMismatch):
        writer.commit({"blake2b_256": "0" * 64})


def test_abort_removes_the_temporary_file(store: LocalBlobStore) -> None:
    writer = store.writer()
    writer.write(DATA)
    writer.abort()
    writer.abort()  # twice is harmless
    assert temp_files(store) == []
    assert blobs(store) == []


def test_a_failing_publish_leaves_nothing_behind(store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(temp_path: Path, sha256: str, upload: bool = True) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "_publish", broken)
    writer = store.writer()
    writer.write(DATA)
    with pytest.raises(OSError, match="disk full"):
        writer.commit()
    assert temp_files(store) == []
    assert blobs(store) == []


def test_the_writer_is_closed_after_commit(store: LocalBlobStore) -> None:
    writer = store.writer()
    writer.write(DATA)
    writer.commit()
    with pytest.raises(OSError):
        writer.write(b"more")


def test_same_content_twice_is_one_blob(store: LocalBlobStore) -> None:
    assert store.put_bytes(DATA) == store.put_bytes(DATA)
    assert len(blobs(store)) == 1


def test_empty_blob(store: LocalBlobStore) -> None:
    sha = store.put_bytes(b"")
    assert sha == hashlib.sha256(b"").hexdigest()
    assert store.size(sha) == 0


def test_memoryview_and_large_chunks(store: LocalBlobStore) -> None:
    big = os.urandom(3 << 20)
    writer = store.writer()
    writer.write(big)
    assert writer.commit() == hashlib.sha256(big).hexdigest()


def test_writer_at_a_chosen_path(store: LocalBlobStore) -> None:
    path = store.shared_temp / "download-abc.part"
    path.write_bytes(b"leftover of a crashed process")
    writer = store.writer_at(path)
    writer.write(DATA)
    assert path.read_bytes() == DATA  # other processes follow the download here
    assert writer.commit({"sha256": SHA}) == SHA
    assert not path.exists()


@pytest.mark.parametrize("where", ["../escape.part", "/tmp/elsewhere.part"])
def test_writer_at_stays_inside_the_temporary_directory(store: LocalBlobStore, where: str) -> None:
    with pytest.raises(ValueError, match="temporary directory"):
        store.writer_at(Path(where) if where.startswith("/") else store.root / where)


def test_delete(store: LocalBlobStore) -> None:
    sha = store.put_bytes(DATA)
    store.delete(sha)
    store.delete(sha)
    assert not store.exists(sha)
    assert store.local_path(sha) is None


@pytest.mark.parametrize("bad", ["", "abc", SHA.upper(), SHA + "0", "../" + SHA[3:], "g" * 64, SHA + "\n"])
def test_only_sha256_names_reach_the_file_system(store: LocalBlobStore, bad: str) -> None:
    assert not is_sha256(bad)
    with pytest.raises(ValueError, match="not a sha256"):
        store.path_for(bad)
    with pytest.raises(ValueError):
        store.exists(bad)


def test_temporary_directories_of_processes_that_are_gone_are_removed(tmp_path: Path) -> None:
    alive = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    gone = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    alive_writer = alive.writer()
    alive_writer.write(DATA)
    gone_writer = gone.writer()
    gone_writer.write(DATA)
    gone._owner, owner = -1, gone._owner
    os.close(owner)  # as a killed process would: its lock goes, its files stay
    downloads = tmp_path / "tmp" / "downloads"
    downloads.mkdir()
    (downloads / "abandoned.part").write_bytes(DATA)
    (downloads / "abandoned.lock").touch()
    (downloads / "running.part").write_bytes(DATA)
    running = os.open(downloads / "running.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(running, fcntl.LOCK_EX)
    try:
        remove_abandoned(tmp_path / "tmp")
    finally:
        os.close(running)
    assert alive_writer.temp_path.exists()  # another server's upload under way
    assert not gone.temp_dir.exists()
    assert not (downloads / "abandoned.part").exists()
    assert (downloads / "running.part").exists()
    alive_writer.abort()
    alive.close()
    assert not alive.temp_dir.exists()
