"""A content-addressed blob store: every stored file is named by the sha256 of its bytes.

Writes go to a temporary file inside the data directory and become visible only through an atomic rename after
the content is verified, so a reader never sees a partial or wrong file. Local disk now; the interface is small
enough for an object store later (one without local paths answers `local_path` with None).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from rennet.storage._layout import blob_name, is_sha256
from rennet.storage.errors import StorageFull, full_disk_named
from rennet.storage.objectstore import ObjectMissing, ObjectStore

__all__ = [
    "BlobStore",
    "BlobWriter",
    "DigestMismatch",
    "LocalBlobStore",
    "blob_name",
    "good_blobs",
    "is_sha256",
    "lock_held",
    "owned",
    "remove_abandoned",
    "same_file",
]

_DATA_FILE = "a file in the data directory"  # what a full disk kept rennet from writing
# Names an index may put in a page that hashlib can compute without parameters (shake_* need a length).
_HASHES = (frozenset(hashlib.algorithms_guaranteed) - {"shake_128", "shake_256"}) | {"blake2b_256"}


def remove_abandoned(temp_root: Path) -> None:
    """Remove the temporary directories of processes that are gone (their owner lock is free), and downloads
    nobody runs any more; leave the rest alone: an upload or a download may be under way in another server on
    this data directory."""
    if not temp_root.is_dir():
        return
    for directory in temp_root.glob("process-*"):
        if not owned(directory):
            shutil.rmtree(directory, ignore_errors=True)
    for lock_path in (temp_root / "downloads").glob("*.lock"):
        if not lock_held(lock_path):
            lock_path.with_suffix(".part").unlink(missing_ok=True)


def owned(directory: Path) -> bool:
    """Whether the process whose temporary directory this is still lives."""
    return lock_held(directory / OWNER_LOCK)


def lock_held(lock_path: Path) -> bool:
    """Whether a process holds this lock file: its temporary directory, or its download, is still in use."""
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def good_blobs(root: Path, damaged: Callable[[str], None]) -> Iterator[tuple[str, Path]]:
    """(sha256, path) of every blob below `root` whose bytes hash to its name; the others are told to `damaged`."""
    for path in sorted(root.glob("??/??/*")):
        if not is_sha256(path.name):
            continue
        digest = hashlib.sha256()
        with path.open("rb") as stored:
            while chunk := stored.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() == path.name:
            yield path.name, path
        else:
            damaged(path.name)


def same_file(fd: int, path: Path | None) -> bool:
    """Whether `path` still names the file open as `fd` (not deleted, not replaced by another)."""
    if path is None:
        return False
    try:
        held, found = os.fstat(fd), path.stat()
    except FileNotFoundError:
        return False
    return (held.st_dev, held.st_ino) == (found.st_dev, found.st_ino)


class DigestMismatch(ValueError):
    """The bytes do not hash to what the index promised; nothing was stored."""

    def __init__(self, algorithm: str, expected: str, actual: str) -> None:
        super().__init__(f"{algorithm} mismatch: expected {expected}, got {actual}")
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


def _new_hash(name: str) -> Any:
    # blake2b_256 is PyPI's name for blake2b with a 32-byte digest; hashlib has no such name.
    return hashlib.blake2b(digest_size=32) if name == "blake2b_256" else hashlib.new(name)


class BlobWriter:
    """An open temporary file that hashes what is written and becomes a blob on commit."""

    def __init__(
        self, store: LocalBlobStore, fd: int, temp_path: Path, extra_hashes: tuple[str, ...], upload: bool = True
    ) -> None:
        self._store = store
        self._upload = upload  # to the object store, if there is one (not what was just fetched from it)
        self._fd = fd
        self.temp_path = temp_path
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._extra = {name: _new_hash(name) for name in extra_hashes if name in _HASHES and name != "sha256"}
        self._closed = False
        self._verified: str | None = None

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        try:
            with full_disk_named(_DATA_FILE):
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
        except StorageFull:
            self.abort()
            raise
        self._sha256.update(chunk)
        for digest in self._extra.values():
            digest.update(chunk)
        self.size += len(chunk)

    def hexdigests(self) -> dict[str, str]:
        found = {name: digest.hexdigest() for name, digest in self._extra.items()}
        found["sha256"] = self._sha256.hexdigest()
        return found

    def commit(self, expected: Mapping[str, str] | None = None) -> str:
        """Verify against the expected hashes, then publish; returns the sha256. Aborts on any mismatch."""
        sha256 = self.verify(expected)
        self.publish()
        return sha256

    def verify(self, expected: Mapping[str, str] | None = None) -> str:
        """Check the bytes against the expected hashes; returns the sha256. Aborts on any mismatch.

        An expected algorithm that was not computed (not asked for, or unknown to hashlib) is not checked.
        """
        actual = self.hexdigests()
        for algorithm, value in (expected or {}).items():
            if algorithm in actual and actual[algorithm] != value.lower():
                self.abort()
                raise DigestMismatch(algorithm, value.lower(), actual[algorithm])
        self._verified = actual["sha256"]
        return self._verified

    def publish(self, upload: bool | None = None) -> None:
        """Make the verified bytes durable and visible under their sha256 (uploaded to the object store first,
        unless `upload` is False: bytes that came from it)."""
        assert self._verified is not None, "verify() comes first"
        try:
            with full_disk_named(_DATA_FILE):
                os.fsync(self._fd)
                # Another process may have replaced the file at our temporary path (a crashed run's leftover
                # removed by a new start): publish only the bytes this writer wrote and hashed.
                if not same_file(self._fd, self.temp_path):
                    raise OSError(f"{self.temp_path} was replaced by another process; not publishing it")
                self._store._publish(self.temp_path, self._verified, self._upload if upload is None else upload)
        except BaseException:
            self.abort()
            raise
        finally:
            self._close()

    def abort(self) -> None:
        self._close()
        with contextlib.suppress(FileNotFoundError):
            self.temp_path.unlink()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)


class BlobStore(Protocol):
    def writer(self, extra_hashes: tuple[str, ...] = ()) -> BlobWriter: ...
    def put_bytes(self, data: bytes, expected: Mapping[str, str] | None = None) -> str: ...
    def exists(self, sha256: str) -> bool: ...
    def local_path(self, sha256: str) -> Path | None: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def size(self, sha256: str) -> int: ...
    def delete(self, sha256: str) -> None: ...


OWNER_LOCK = "owner.lock"


class LocalBlobStore:
    """Blobs at <root>/<ab>/<cd>/<sha256>; temporary files on the same file system, below `temp_root`: in a
    directory of this process's own (held by a lock while it lives), and in `shared_temp` for what other processes
    must find by name (downloads that several workers read).

    With a `remote` object store (servers on several hosts), the bucket holds every blob and the directory is this
    host's copy of those it sent or received: a blob is uploaded before it is published here (so nothing the
    catalog refers to exists only on one host), and `fetch` copies one from the bucket, verified, when this host
    lacks it."""

    def __init__(self, root: Path, temp_root: Path, remote: ObjectStore | None = None) -> None:
        self.root = root
        self.remote = remote
        self.shared_temp = temp_root
        root.mkdir(parents=True, exist_ok=True)
        temp_root.mkdir(parents=True, exist_ok=True)
        self.temp_dir = temp_root / f"process-{os.getpid()}-{secrets.token_hex(4)}"
        self.temp_dir.mkdir()
        self._owner = os.open(self.temp_dir / OWNER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._owner, fcntl.LOCK_EX)

    def close(self) -> None:
        """This process is done: its temporary directory goes (anything left there was never published)."""
        if self._owner >= 0:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            os.close(self._owner)
            self._owner = -1

    def writer(self, extra_hashes: tuple[str, ...] = (), upload: bool = True) -> BlobWriter:
        with full_disk_named(_DATA_FILE):
            fd, name = tempfile.mkstemp(prefix="blob-", suffix=".part", dir=self.temp_dir)
        return BlobWriter(self, fd, Path(name), extra_hashes, upload)

    def writer_at(self, path: Path, extra_hashes: tuple[str, ...] = ()) -> BlobWriter:
        """A writer on a chosen temporary path below the shared temporary directory (other processes find it)."""
        if self.shared_temp not in path.parents:
            raise ValueError("temporary files stay inside the temporary directory")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a leftover of a crashed process; its readers keep their inode
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return BlobWriter(self, fd, path, extra_hashes)

    def path_for(self, sha256: str) -> Path:
        return self.root / blob_name(sha256)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def local_path(self, sha256: str) -> Path | None:
        path = self.path_for(sha256)
        return path if path.is_file() else None

    def open(self, sha256: str) -> BinaryIO:
        return self.path_for(sha256).open("rb")

    def size(self, sha256: str) -> int:
        return self.path_for(sha256).stat().st_size

    def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path_for(sha256).unlink()

    def put_bytes(self, data: bytes, expected: Mapping[str, str] | None = None) -> str:
        writer = self.writer(tuple(expected or ()))
        writer.write(data)
        return writer.commit(expected)

    def fetch(self, sha256: str) -> bool:
        """Make sure this host has the blob, copying it from the object store if need be; False when neither has
        it. Raises ObjectStoreUnavailable, or DigestMismatch for an object whose bytes are not its name's."""
        if self.exists(sha256):
            return True
        if self.remote is None:
            return False
        writer = self.writer(upload=False)
        try:
            for chunk in self.remote.chunks(sha256):
                writer.write(chunk)
        except ObjectMissing:
            writer.abort()
            return False
        except BaseException:
            writer.abort()
            raise
        writer.commit({"sha256": sha256})
        return True

    def trim_copies(self, limit: int) -> tuple[int, int]:
        """With an object store: delete this host's least recently used copies until they take at most `limit`
        bytes; (copies deleted, bytes freed). A copy is deleted only once the bucket is seen to hold it (blobs
        from before the bucket was configured stay), and one host's trims run one at a time. Blocking."""
        if self.remote is None:
            return 0, 0
        with open(self.shared_temp / "trim.lock", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0, 0  # another process of this host is trimming
            copies = sorted(self._copies(), key=lambda copy: copy[0])
            total = sum(size for _, size, _ in copies)
            deleted = freed = 0
            for _, size, path in copies:
                if total - freed <= limit:
                    break
                with contextlib.suppress(ObjectMissing):
                    if self.remote.size(path.name) == size:
                        path.unlink(missing_ok=True)
                        deleted, freed = deleted + 1, freed + size
            return deleted, freed

    def _copies(self) -> list[tuple[float, int, Path]]:
        """(last use, size, path) of every blob on this host: last use is the access time, which `note_use` sets."""
        found = []
        for path in self.root.glob("??/??/*"):
            with contextlib.suppress(FileNotFoundError):
                status = path.stat()
                if is_sha256(path.name):
                    found.append((status.st_atime, status.st_size, path))
        return found

    @staticmethod
    def note_use(path: Path) -> None:
        """Mark a copy as just used (its access time; its modification time keeps saying when it was written)."""
        with contextlib.suppress(OSError):
            os.utime(path, (time.time(), path.stat().st_mtime))

    def held_path(self, sha256: str) -> Path | None:
        """This host's copy of a blob, copied from the object store first if need be; None when nobody has it."""
        return self.path_for(sha256) if self.fetch(sha256) else None

    def _publish(self, temp_path: Path, sha256: str, upload: bool = True) -> None:
        if upload and self.remote is not None:
            self.remote.put_file(sha256, temp_path)
        target = self.path_for(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp_path, 0o644)
        os.replace(temp_path, target)
