"""Open descriptors of held blobs, shared by the requests of one worker that send the same blob.

Why descriptors: a blob may be deleted (cache eviction, `rennet gc`, `rennet verify`) while a client is being sent
it. An open descriptor keeps the bytes readable until it is closed, so an answer opens the blob when it finds it
and sends from that descriptor: by pread, or through the pathsend extension as /proc/self/fd/<n>.

Why they linger: Granian opens a pathsend path in a task of its own, after `send` has returned and even after
`receive` has reported the request finished (measured: tens of milliseconds later on a loaded machine). Had the
descriptor been closed by then, Granian would open whatever file took its number next and send those bytes under
this file's headers. So a descriptor stays open LINGER seconds after its last use. Requests for the same blob
share one descriptor, which bounds their number by the distinct blobs sent within LINGER, not by the request rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

from rennet.storage.blobs import LocalBlobStore

__all__ = ["LINGER", "PROC_FD", "BlobLease", "OpenBlobs"]

LINGER = 10.0
# Where a descriptor has a path of its own (Linux): pathsend can then send the open file rather than a path.
PROC_FD = Path("/proc/self/fd").is_dir()


class _OpenBlob:
    __slots__ = ("fd", "identity", "last_use", "path", "size", "users")

    def __init__(self, fd: int, path: Path) -> None:
        status = os.fstat(fd)
        self.fd = fd
        self.path = path
        self.size = status.st_size
        self.identity = (status.st_dev, status.st_ino)
        self.users = 0
        self.last_use = time.monotonic()


class BlobLease:
    """One answer's use of an open blob. release() once it is sent; dropping an unsent lease releases it too."""

    __slots__ = ("_blob", "_pool", "fd", "path", "size")

    def __init__(self, pool: OpenBlobs, blob: _OpenBlob) -> None:
        self._pool = pool
        self._blob: _OpenBlob | None = blob
        self.fd = blob.fd
        self.path = blob.path
        self.size = blob.size

    @property
    def proc_path(self) -> str:
        """A path that opens this very file, deleted or not (only where PROC_FD)."""
        return f"/proc/self/fd/{self.fd}"

    def release(self) -> None:
        blob, self._blob = self._blob, None
        if blob is not None:
            self._pool._release(blob)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.release()


class OpenBlobs:
    def __init__(self, blobs: LocalBlobStore, linger: float = LINGER) -> None:
        self._blobs = blobs
        self._linger = linger
        self._open: dict[str, _OpenBlob] = {}
        self._retired: list[_OpenBlob] = []  # replaced by a newer file of the same name, still lingering
        self._timer: asyncio.TimerHandle | None = None

    def lease(self, sha256: str) -> BlobLease | None:
        """The blob, open; None when it is not on disk (deleted a moment ago, or never there)."""
        blob = self._open.get(sha256)
        path = blob.path if blob is not None else self._blobs.path_for(sha256)
        try:
            status = path.stat()
        except FileNotFoundError:
            return None
        # Another inode under the name: the blob was deleted and fetched again (or quarantined and replaced).
        if blob is None or blob.identity != (status.st_dev, status.st_ino):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return None
            if blob is not None:
                self._retired.append(blob)
            blob = self._open[sha256] = _OpenBlob(fd, path)
            if self._blobs.remote is not None:
                self._blobs.note_use(path)  # copies of the bucket's blobs are trimmed least recently used first
            self._schedule()
        blob.users += 1
        blob.last_use = time.monotonic()
        return BlobLease(self, blob)

    def _release(self, blob: _OpenBlob) -> None:
        blob.users -= 1
        blob.last_use = time.monotonic()

    def __len__(self) -> int:
        return len(self._open) + len(self._retired)

    def sweep(self, now: float | None = None) -> None:
        """Close the descriptors nobody used for LINGER seconds."""
        now = time.monotonic() if now is None else now
        idle = [sha for sha, blob in self._open.items() if self._idle(blob, now)]
        for sha in idle:
            os.close(self._open.pop(sha).fd)
        keep = []
        for blob in self._retired:
            if self._idle(blob, now):
                os.close(blob.fd)
            else:
                keep.append(blob)
        self._retired = keep

    def _idle(self, blob: _OpenBlob, now: float) -> bool:
        return blob.users <= 0 and now - blob.last_use >= self._linger

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (a synchronous tool): closed by close()
        self._timer = loop.call_later(self._linger, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.sweep()
        if self._open or self._retired:
            self._schedule()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for blob in [*self._open.values(), *self._retired]:
            with contextlib.suppress(OSError):
                os.close(blob.fd)
        self._open.clear()
        self._retired.clear()
