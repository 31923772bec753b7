"""What index services answer with: files held on disk, files still downloading, and rendered project lists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rennet.service.runtime.downloads import Download
from rennet.service.runtime.openblobs import BlobLease

__all__ = ["CacheOutcome", "FileAnswer", "Listing", "LocalFile", "StoredFile", "StreamingFile", "copied", "on_disk"]

# How an answer was obtained, for the access log and `rennet stats`: from the cache (hit), fetched now (miss),
# from the cache after the upstream or the database failed (stale), revalidated with the upstream (refresh).
CacheOutcome = Literal["hit", "miss", "stale", "refresh"]


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A held file: sent zero-copy from disk.

    `lease` holds the file open from the moment it was found, so that deleting the blob meanwhile (eviction,
    gc, verify) cannot cut a client's transfer short; the response releases it once sent."""

    path: Path
    size: int
    sha256: str
    cache: CacheOutcome = "hit"
    lease: BlobLease | None = None

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()


@dataclass(frozen=True, slots=True)
class StreamingFile:
    """A file being downloaded: streamed to the client while it is written."""

    download: Download
    fd: int
    size: int | None
    sha256: str | None
    cache: CacheOutcome = "miss"


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file the object store holds and this host has no copy of. Nothing is copied until its bytes are needed
    here (`copy`), so that a HEAD, a conditional request, a range (`byte_range`, straight from the store) or a
    redirect to the store never waits for a whole copy."""

    sha256: str
    size: int
    copy: Callable[[], Awaitable[LocalFile | StreamingFile]]
    byte_range: Callable[[int, int], AsyncIterator[bytes]]
    cache: CacheOutcome = "hit"


FileAnswer = LocalFile | StreamingFile | StoredFile


async def copied(answer: FileAnswer) -> LocalFile | StreamingFile:
    """The answer as bytes on this host: a stored file's copy starts (or is joined) now."""
    return await answer.copy() if isinstance(answer, StoredFile) else answer


async def on_disk(answer: FileAnswer, reopen: Callable[[], Awaitable[FileAnswer]]) -> FileAnswer:
    """The answer as a file on disk: a copy or download under way is waited for, then the file is opened again."""
    answer = await copied(answer)
    if isinstance(answer, StreamingFile):
        await answer.download.complete(answer.fd)
        return await reopen()
    return answer


@dataclass(frozen=True, slots=True)
class Listing:
    """A rendered project list on disk: <stem>.html, <stem>.json and their .gz twins, plus <stem>.names."""

    stem: Path
    digest: str
    count: int
    cache: CacheOutcome = "hit"

    def path(self, suffix: str) -> Path:
        return self.stem.with_name(self.stem.name + suffix)
