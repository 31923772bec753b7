"""What every index service shares: the resources of a worker, answers, errors and request coalescing."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from rennet.domain.indexes import IndexConfig, IndexKind
from rennet.service.accesses import AccessTimes
from rennet.service.downloads import Download, Downloads
from rennet.service.heldfiles import HeldFiles
from rennet.service.openblobs import BlobLease, OpenBlobs
from rennet.service.pagecache import CachedPage, PageCache
from rennet.storage.blobs import LocalBlobStore
from rennet.storage.catalog import Catalog
from rennet.storage.generations import Generations
from rennet.upstream.client import SessionHolder

__all__ = [
    "IndexService",
    "Listing",
    "LocalFile",
    "NotFound",
    "ServiceError",
    "Shared",
    "SingleFlight",
    "Storage",
    "StreamingFile",
    "on_disk",
    "page_changed",
]

T = TypeVar("T")


class ServiceError(Exception):
    """A request that cannot be answered with content: `status` and a sentence for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NotFound(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A held file: sent zero-copy from disk.

    `lease` holds the file open from the moment it was found, so that deleting the blob meanwhile (eviction,
    gc, verify) cannot cut a client's transfer short; the response releases it once sent."""

    path: Path
    size: int
    sha256: str
    cache: str = "hit"
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
    cache: str = "miss"


FileAnswer = LocalFile | StreamingFile


async def on_disk(answer: FileAnswer, reopen: Callable[[], Awaitable[FileAnswer]]) -> FileAnswer:
    """The answer as a file on disk: a download under way is waited for, then the file is opened again."""
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
    cache: str = "hit"

    def path(self, suffix: str) -> Path:
        return self.stem.with_name(self.stem.name + suffix)


class SingleFlight(Generic[T]):
    """Concurrent callers with the same key share one run; a caller that goes away does not cancel it."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        future = self._running.get(key)
        if future is None:
            future = asyncio.ensure_future(work())
            self._running[key] = future
            future.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(future)


@dataclass(slots=True)
class Shared:
    """The resources one worker process shares between its index services."""

    catalog: Catalog
    blobs: LocalBlobStore
    generations: Generations
    pages: PageCache
    downloads: Downloads
    sessions: SessionHolder
    listings_dir: Path
    offline: bool = False
    max_page_bytes: int = 64 << 20
    max_listing_bytes: int = 1 << 30
    held: HeldFiles = field(default_factory=HeldFiles)
    open_blobs: OpenBlobs | None = None
    accesses: AccessTimes | None = None
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    async def db(self, function: Callable[..., T], *args: Any) -> T:
        """Run a catalog call in a worker thread: the database is never queried on the event loop."""
        return await asyncio.to_thread(function, *args)

    def dependency(self, index: str, project: str = "") -> tuple[int, int]:
        slot = Generations.slot(index, project)
        return slot, self.generations.get(slot)

    def changed(self, index: str, project: str = "") -> None:
        page_changed(self, index, project)

    def held_file(self, index: str, project: str, name: str) -> LocalFile | None:
        """A held file remembered by this worker, still valid and still on disk (then open)."""
        key = (index, project, name)
        sha256 = self.held.get(key, self.dependency(index, project))
        if sha256 is None:
            return None
        found = self.open_blob(sha256)
        if found is None:
            self.held.forget(key)
            return None
        self._note_access(index, project, name)
        return found

    def hold_file(self, index: str, project: str, name: str, dependency: tuple[int, int], found: LocalFile) -> None:
        """Remember a held file under the generation read before the catalog was asked."""
        self.held.put((index, project, name), found.sha256, dependency)
        self._note_access(index, project, name)

    def open_blob(self, sha256: str, cache: str = "hit") -> LocalFile | None:
        """A blob as an answer, open from now on; None when it is not on disk (deleted: fetch it again)."""
        if self.open_blobs is not None:
            try:
                lease = self.open_blobs.lease(sha256)
            except OSError as error:
                if error.errno not in (errno.EMFILE, errno.ENFILE):
                    raise
                lease = None  # out of descriptors: sent by name, as before descriptors were kept
            else:
                return None if lease is None else LocalFile(lease.path, lease.size, sha256, cache, lease)
        path = self.blobs.path_for(sha256)
        try:
            return LocalFile(path, path.stat().st_size, sha256, cache)
        except FileNotFoundError:
            return None

    def _note_access(self, index: str, project: str, name: str) -> None:
        if self.accesses is not None and not name.endswith(".metadata"):
            self.accesses.note(index, project, name)

    def spawn(self, work: Awaitable[Any]) -> None:
        """Run work in the background; Registry.close waits for it."""
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


class Storage(Protocol):
    """What a change to a hosted index needs, whether a server's worker (Shared) or a command (Store) makes it."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def blobs(self) -> LocalBlobStore: ...

    @property
    def generations(self) -> Generations: ...


def page_changed(storage: Storage, index: str, project: str = "") -> None:
    """Make every worker of every process re-read a page (`project` "" is the index's project list)."""
    storage.generations.bump(Generations.slot(index, project))


class IndexService(Protocol):
    name: str
    kind: IndexKind
    holds_uploads: bool  # hosted content, which changes on upload, is in its pages

    @property
    def config(self) -> IndexConfig: ...

    async def project_page(self, project: str) -> CachedPage: ...

    async def open_file(self, project: str, filename: str) -> FileAnswer: ...

    async def open_metadata(self, project: str, filename: str) -> FileAnswer: ...

    async def listing(self) -> Listing: ...
