"""One worker's resources, which its index services share: the catalog, the blobs, the change counters, the
page cache, downloads under way, open blobs and access times. Command-line tools build the same for themselves."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

from rennet.service.answers import LocalFile
from rennet.service.runtime.accesses import AccessTimes
from rennet.service.runtime.downloads import Downloads
from rennet.service.runtime.heldfiles import HeldFiles
from rennet.service.runtime.openblobs import OpenBlobs
from rennet.service.runtime.pagecache import PageCache
from rennet.storage.blobs import LocalBlobStore
from rennet.storage.catalog import Catalog
from rennet.storage.generations import Generation, Generations
from rennet.upstream.client import SessionHolder

__all__ = ["Storage", "WorkerResources", "page_changed"]

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(slots=True)
class WorkerResources:
    """The resources one worker process shares between its index services."""

    catalog: Catalog
    blobs: LocalBlobStore
    generations: Generations
    pages: PageCache
    downloads: Downloads
    sessions: SessionHolder
    listings_dir: Path
    open_blobs: OpenBlobs
    accesses: AccessTimes
    offline: bool = False
    max_page_bytes: int = 64 << 20
    max_listing_bytes: int = 1 << 30
    held: HeldFiles = field(default_factory=HeldFiles)
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    async def db(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a catalog call in a worker thread: the database is never queried on the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)

    def dependency(self, index: str, project: str = "") -> Generation:
        slot = Generations.slot(index, project)
        return Generation(slot, self.generations.get(slot))

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

    def hold_file(self, index: str, project: str, name: str, dependency: Generation, found: LocalFile) -> None:
        """Remember a held file under the generation read before the catalog was asked."""
        self.held.put((index, project, name), found.sha256, dependency)
        self._note_access(index, project, name)

    def open_blob(self, sha256: str, cache: str = "hit") -> LocalFile | None:
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

    def _note_access(self, index: str, project: str, name: str) -> None:
        if not name.endswith(".metadata"):
            self.accesses.note(index, project, name)

    def spawn(self, work: Awaitable[Any]) -> None:
        """Run work in the background; Registry.close waits for it."""
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


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
    storage.generations.bump(Generations.slot(index, project))
