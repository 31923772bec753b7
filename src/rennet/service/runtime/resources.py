"""One worker's resources, which its index services share: the catalog, the blobs, the change counters, the
page cache, downloads under way, open blobs, access times and metrics. Command-line tools build the same for
themselves."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from rennet.domain.advisories import ADVISORIES_SLOT, Advisory
from rennet.service.answers import CacheOutcome, FileAnswer, LocalFile
from rennet.service.errors import Unavailable
from rennet.service.runtime.accesses import AccessTimes
from rennet.service.runtime.clock import Clock
from rennet.service.runtime.downloads import Downloads
from rennet.service.runtime.heldfiles import HeldFiles
from rennet.service.runtime.metrics import WorkerMetrics
from rennet.service.runtime.openblobs import OpenBlobs
from rennet.service.runtime.pagecache import CachedPage, PageCache
from rennet.storage.advisories import AdvisoryCatalog
from rennet.storage.blobs import LocalBlobStore
from rennet.storage.catalog import Catalog
from rennet.storage.database import DatabaseUnavailable
from rennet.storage.errors import StorageFull
from rennet.storage.generations import Generation, Generations, slot_of
from rennet.storage.objectstore import ObjectStoreUnavailable

if TYPE_CHECKING:  # the upstream client brings aiohttp, the leases PostgreSQL's dialect: commands need neither
    from rennet.storage.transfers import TransferLeases
    from rennet.upstream.client import SessionHolder

__all__ = [
    "DATABASE_RETRY",
    "Storage",
    "WorkerResources",
    "database_unavailable",
    "page_changed",
    "storage_full",
    "store_unavailable",
]

log = logging.getLogger("rennet.database")

T = TypeVar("T")
P = ParamSpec("P")

# After the database failed, how long a worker answers from memory (or with 503) before it asks the database
# again: a database host that does not answer would otherwise hold every request for the connect timeout.
DATABASE_RETRY = 2.0


def database_unavailable() -> Unavailable:
    """What a client is told while the database is down (the cause goes to the log, not to the client)."""
    return Unavailable("the package database is unavailable right now; try again in a few seconds", retry_after=5)


def store_unavailable() -> Unavailable:
    """What a client is told while the object store (the bucket every host shares) cannot be used."""
    return Unavailable("the file store is unavailable right now; try again in a few seconds", retry_after=5)


def storage_full() -> Unavailable:
    """What a client is told when the disk is full: nothing was kept of what it sent or asked for."""
    return Unavailable("rennet's disk is full, so nothing was stored; its operator must free space", status=507)


@dataclass(slots=True)
class WorkerResources:
    """The resources one worker process shares between its index services."""

    catalog: Catalog
    advisories: AdvisoryCatalog
    blobs: LocalBlobStore
    generations: Generations
    pages: PageCache
    downloads: Downloads
    sessions: SessionHolder
    listings_dir: Path
    open_blobs: OpenBlobs
    accesses: AccessTimes
    clock: Clock
    offline: bool = False
    max_page_bytes: int = 64 << 20
    max_listing_bytes: int = 1 << 30
    held: HeldFiles = field(default_factory=HeldFiles)
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    database_down_until: float = 0.0  # monotonic time; see DATABASE_RETRY
    transfers: TransferLeases | None = None  # hosts sharing a bucket fetch each upstream file once (PostgreSQL)
    advised: tuple[Generation, frozenset[str]] | None = None  # the projects that have advisories, as last read

    async def db(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run storage work (catalog calls) in a worker thread: the database is never queried on the event loop.

        Raises Unavailable (503) while the database is down, without asking it again for DATABASE_RETRY."""
        if self.clock.monotonic() < self.database_down_until:
            raise database_unavailable()
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except StorageFull as error:
            log.error("%s", error)
            raise storage_full() from None
        except ObjectStoreUnavailable as error:
            log.error("%s", error)
            raise store_unavailable() from None
        except DatabaseUnavailable as error:
            if self.clock.monotonic() >= self.database_down_until:
                log.error("the database is unavailable (pages in memory are served stale meanwhile): %s", error)
            self.database_down_until = self.clock.monotonic() + DATABASE_RETRY
            raise database_unavailable() from None

    async def page(self, key: Hashable, load: Callable[[CachedPage | None], Awaitable[CachedPage]]) -> CachedPage:
        """The page from memory while it is fresh and nothing it depends on changed; else what `load` makes of
        it, given the copy in memory if there is one. While the database is unavailable, that copy is served
        stale instead of a refusal."""
        if (fresh := self.pages.hit(key, self.generations)) is not None:
            return fresh
        cached = self.pages.get(key)
        try:
            return await load(cached)
        except Unavailable:
            if cached is None:
                raise
            stale = cached.stale(self.clock.now() + DATABASE_RETRY, self.generations)
            self.pages.put(key, stale)
            return stale

    def dependency(self, index: str, project: str = "") -> Generation:
        slot = slot_of(index, project)
        return Generation(slot, self.generations.get(slot))

    def changed(self, index: str, project: str = "") -> None:
        page_changed(self, index, project)

    async def advisories_for(self, project: str) -> tuple[Advisory, ...]:
        """The project's advisories (`rennet advisories import`); most projects have none, which costs no query:
        the names of those that do are read once, and again after each import."""
        dependency = self.dependency(*ADVISORIES_SLOT)
        if self.advised is None or self.advised[0] != dependency:
            self.advised = (dependency, await self.db(self.advisories.projects))
        if project not in self.advised[1]:
            return ()
        return tuple(await self.db(self.advisories.for_project, project))

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

    def hold_file(self, index: str, project: str, name: str, dependency: Generation, found: FileAnswer) -> None:
        """Remember a held file under the generation read before the catalog was asked (a copy still arriving
        from the object store is remembered by the next request, once it is on disk)."""
        if isinstance(found, LocalFile):
            self.held.put((index, project, name), found.sha256, dependency)
        self._note_access(index, project, name)

    def open_blob(self, sha256: str, cache: CacheOutcome = "hit") -> LocalFile | None:
        """A blob as an answer, open from now on; None when it is not on disk (deleted: fetch it again)."""
        try:
            lease = self.open_blobs.lease(sha256)
        except OSError as error:
            if error.errno not in (errno.EMFILE, errno.ENFILE):
                raise
        else:
            return None if lease is None else LocalFile(lease.path, lease.size, sha256, cache, lease)
        # Out of descriptors: sent by name, as before descriptors were kept.
        path = self.blobs.path_for(sha256)
        try:
            return LocalFile(path, path.stat().st_size, sha256, cache)
        except FileNotFoundError:
            return None

    async def open_stored(self, sha256: str, cache: CacheOutcome = "hit") -> FileAnswer | None:
        """open_blob; on a host without a copy of the object store's blob, the blob as the bucket holds it
        (service/runtime/storecopy.py). None when neither has it."""
        found = self.open_blob(sha256, cache)
        if found is not None or self.blobs.remote is None:
            return found
        from rennet.service.runtime.storecopy import open_from_store

        return await open_from_store(self, sha256, cache)

    def _note_access(self, index: str, project: str, name: str) -> None:
        if not name.endswith(".metadata"):
            self.accesses.note(index, project, name)

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run work in the background; Registry.close waits for it."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


class Storage(Protocol):
    """What a change to a hosted index needs, whether a server's worker (WorkerResources) or a command (Store)
    makes it."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def blobs(self) -> LocalBlobStore: ...

    @property
    def generations(self) -> Generations: ...


def page_changed(storage: Storage, index: str, project: str = "") -> None:
    """Make every worker of every process re-read a page (`project` "" is the index's project list)."""
    storage.generations.bump(slot_of(index, project))
