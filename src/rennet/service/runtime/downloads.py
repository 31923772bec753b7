"""Single-flight downloads that clients read while they grow.

The first request for an uncached file starts one download into a temporary file in the data directory; every
request for the same file, in this process or another worker, streams from that file as it grows. The last bytes
are held back until the whole file is verified against the index's hash: a mismatch or a broken transfer makes
every reader fail instead of completing, so pip and uv report an error rather than install a wrong file.

Across worker processes a lock file per download decides who downloads; the others tail the temporary file and
learn the outcome from the catalog once the lock is released, and from the lock file why a failed one failed
(its bytes were whole but could not be kept, or the object store could not be used). A response says 200 only
once its first bytes are there: a download that fails before them is refused with a sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path

from rennet.storage.blobs import BlobWriter, LocalBlobStore, lock_held, same_file
from rennet.storage.objectstore import ObjectStoreUnavailable

__all__ = ["HOLDBACK", "Download", "DownloadFailed", "Downloads", "Fetch", "TryAgain"]

log = logging.getLogger("rennet.downloads")

HOLDBACK = 64 << 10  # bytes kept from readers until the file is verified
_POLL = 0.02

Fetch = Callable[["Download", BlobWriter], Awaitable[str]]
"""Writes the file into the writer (calling download.advance), commits it and returns its sha256."""
Outcome = Callable[[], Awaitable[str | None]]
"""Asks the catalog whether the file is now held: its sha256, or None."""


class DownloadFailed(Exception):
    """The file could not be fetched or did not verify; readers must abort their response."""


class TryAgain(Exception):
    """Another worker finished the download just now: look the file up again."""


class Download:
    """One file on its way from the upstream, run by this process."""

    def __init__(self, expected_size: int | None) -> None:
        self.expected_size = expected_size
        self.written = 0
        self.done = False
        self.error: str | None = None
        self.store_unavailable = False  # it failed because the object store could not be used
        self._changed = asyncio.Event()
        self._announced = asyncio.Event()
        self._settled = asyncio.Event()

    def announce(self, size: int | None) -> None:
        """The upstream answered: the transfer starts, with this many bytes if known."""
        self.expected_size = size
        self._announced.set()

    def advance(self, total: int) -> None:
        self.written = total
        self._wake()

    def finish(self, error: str | None) -> None:
        """The transfer's outcome, told once: verified bytes released to readers stay released, whatever fails
        after them (recording the file, say)."""
        if self.done:
            return
        self.error, self.done = error, True
        self._announced.set()
        self._wake()

    def settle(self) -> None:
        """Everything is done: the blob published and recorded (or the attempt given up)."""
        self._settled.set()

    async def settled(self) -> None:
        """Readers may finish as soon as the bytes are verified; this waits until the file is held too."""
        await self._settled.wait()

    async def complete(self, fd: int) -> None:
        """Read the whole file (raising DownloadFailed if it fails), then wait until it is held."""
        async for _ in self.stream(fd):
            pass
        await self.settled()

    async def headers_known(self) -> None:
        """Wait until the upstream has answered; raises DownloadFailed if it failed before sending anything."""
        await self._announced.wait()
        if self.error is not None and self.written == 0:
            raise DownloadFailed(self.error)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _progress(self, fd: int) -> None:
        if not self.done:
            await self._changed.wait()

    async def stream(self, fd: int, chunk: int = 256 << 10) -> AsyncGenerator[bytes, None]:
        """The file's bytes from an fd on the temporary file; raises DownloadFailed if it fails."""
        position = 0
        try:
            while True:
                verified = self.done and self.error is None
                # Until verified, the last bytes *of the file* wait, also when the upstream sends more.
                end = self.written if self.expected_size is None else min(self.written, self.expected_size)
                ready = self.written if verified else end - HOLDBACK
                if position < ready:
                    data = os.pread(fd, min(chunk, ready - position), position)
                    if not data:
                        raise DownloadFailed("the temporary file is shorter than announced")
                    position += len(data)
                    yield data
                elif self.done:
                    if self.error is not None:
                        raise DownloadFailed(self.error)
                    return
                else:
                    await self._progress(fd)
        finally:
            os.close(fd)


class RemoteDownload(Download):
    """A download run by another worker: progress is read off the file, the outcome from the catalog."""

    def __init__(self, lock_path: Path, outcome: Outcome, blobs: LocalBlobStore) -> None:
        super().__init__(None)
        self._lock_path = lock_path
        self._outcome = outcome
        self._blobs = blobs

    async def headers_known(self) -> None:
        self.announce(None)

    async def _progress(self, fd: int) -> None:
        await asyncio.sleep(_POLL)
        self.written = os.fstat(fd).st_size
        if not lock_held(self._lock_path):
            sha256 = await self._outcome()
            self.written = os.fstat(fd).st_size  # a rename keeps the inode we read from
            # The file may be held thanks to a later download, after the one we tailed failed: only the very
            # bytes that were committed may complete a response.
            committed = sha256 is not None and same_file(fd, self._blobs.local_path(sha256))
            told = b"" if committed else _told(self._lock_path)
            self.store_unavailable = told == _STORE
            # Bytes that were whole and verified in the other worker complete a response, kept or not.
            whole = committed or told == _VERIFIED
            self.finish(None if whole else "the download in another worker failed")
            self.settle()  # the other worker recorded the outcome before releasing its lock


class Downloads:
    """The downloads under way in this process, one per key, and the lock files that span processes."""

    def __init__(self, blobs: LocalBlobStore) -> None:
        self.blobs = blobs
        self.work_dir = blobs.shared_temp / "downloads"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._active: dict[str, Download] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def join(
        self, key: str, fetch: Fetch, outcome: Outcome, expected_size: int | None, hashes: tuple[str, ...] = ()
    ) -> tuple[Download, int]:
        """The download for `key`, started here if none runs anywhere, and an fd to read it from.

        Raises TryAgain when the file was committed after the caller looked it up: look it up again.
        """
        digest = _digest(key)
        part, lock_path = self.work_dir / f"{digest}.part", self.work_dir / f"{digest}.lock"
        download = self._active.get(key)
        if download is not None:
            return download, _open_when_present(part)
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            return RemoteDownload(lock_path, outcome, self.blobs), _open_when_present(part)
        download = Download(expected_size)
        self._active[key] = download  # joiners meanwhile find no .part yet and try again
        try:
            # The lock only says no download runs now. One may have finished between the caller's look-up and
            # taking the lock; check again before creating the .part, which readers elsewhere would tail.
            if await outcome() is not None:
                raise TryAgain()
            os.ftruncate(lock_fd, 0)  # what an earlier attempt told its tailers
            writer = self.blobs.writer_at(part, hashes)
            read_fd = os.open(part, os.O_RDONLY)
        except BaseException:
            self._active.pop(key, None)
            os.close(lock_fd)
            raise
        task = asyncio.get_running_loop().create_task(self._run(key, download, writer, fetch, lock_fd))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return download, read_fd

    async def _run(self, key: str, download: Download, writer: BlobWriter, fetch: Fetch, lock_fd: int) -> None:
        try:
            await fetch(download, writer)
            download.finish(None)
        except asyncio.CancelledError:
            download.finish("the server is shutting down")
            raise
        except Exception as error:
            log.warning("download of %s failed: %s", key, error)
            download.store_unavailable = isinstance(error, ObjectStoreUnavailable)
            verified = download.done and download.error is None  # the bytes were whole; keeping them failed
            download.finish(str(error) or type(error).__name__)
            # For the workers that tail it, which learn only whether the file was recorded: in the lock file.
            _tell_tailers(lock_fd, verified, download.store_unavailable)
        finally:
            writer.abort()  # no-op after a commit; removes the temporary file otherwise
            self._active.pop(key, None)
            os.close(lock_fd)  # releases the lock
            download.settle()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]


# What a download that failed tells the workers that tailed it, in its lock file: its bytes were whole and
# verified (keeping them failed), or the object store could not be used.
_VERIFIED, _STORE = b"verified", b"store"


def _tell_tailers(lock_fd: int, verified: bool, store_unavailable: bool) -> None:
    if verified or store_unavailable:
        with contextlib.suppress(OSError):
            os.pwrite(lock_fd, _VERIFIED if verified else _STORE, 0)


def _told(lock_path: Path) -> bytes:
    try:
        return lock_path.read_bytes()
    except OSError:
        return b""


def _open_when_present(part: Path) -> int:
    try:
        return os.open(part, os.O_RDONLY)
    except FileNotFoundError:
        # The download has just finished (and renamed the file), or has not created it yet.
        raise TryAgain() from None
