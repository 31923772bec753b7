"""Bounded caches: a proxy index with `max_cache_size` lets go of its least recently sent files beyond it.

An evicted file stays listed; its bytes are forgotten by the catalog, so the next request fetches them again.
The blob is deleted only when nothing else refers to it (another index's file, a .metadata) at that moment, and
it was not written since the pass began. The page's generation is bumped before the blob goes, so every worker
forgets where the file was; a client being sent it meanwhile reads from a descriptor its answer opened
(service/openblobs.py) and receives every byte.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

from rennet.service.runtime.resources import Storage, WorkerResources, page_changed
from rennet.storage.blobs import LocalBlobStore
from rennet.storage.maintenance import CatalogMaintenance, HeldFile

__all__ = ["CacheBound", "Eviction", "evict", "remove_blob"]

log = logging.getLogger("rennet.eviction")


@dataclass(slots=True)
class Eviction:
    index: str
    limit: int
    held_before: int
    files: list[HeldFile] = field(default_factory=list)  # evicted (in a dry run: that would be)
    blobs_deleted: int = 0
    bytes_freed: int = 0

    @property
    def bytes_evicted(self) -> int:
        return sum(f.size for f in self.files)


def evict(storage: Storage, index: str, limit: int, dry_run: bool = False) -> Eviction:
    """Bring the bytes an index holds within `limit`, least recently sent files first (blocking)."""
    started = time.time()
    maintenance = CatalogMaintenance(storage.catalog.engine)
    held = maintenance.held_bytes(index)
    eviction = Eviction(index, limit, held)
    if held <= limit:
        return eviction
    chosen = maintenance.least_recently_used(index, held - limit)
    if dry_run:
        eviction.files = chosen
        return eviction
    eviction.files = maintenance.clear_blobs(chosen)
    for project in sorted({f.project for f in eviction.files}):
        page_changed(storage, index, project)
    for sha256 in sorted({f.sha256 for f in eviction.files}):
        # Asked blob by blob, right before each goes: while a pass deletes many, an upload or a download of the
        # same bytes elsewhere may start using one of them.
        if maintenance.referenced([sha256]):
            continue
        freed = remove_blob(storage.blobs, sha256, started)
        if freed is not None:
            eviction.bytes_freed += freed
            eviction.blobs_deleted += 1
    return eviction


def remove_blob(blobs: LocalBlobStore, sha256: str, written_before: float = math.inf) -> int | None:
    """Delete a blob (only if written before `written_before`); the bytes freed (0 when it was gone already), or
    None when it was kept. Uploads and downloads publish a blob first and record it after: one written since an
    eviction pass began may be about to be referred to (a later `rennet gc` removes it if it is not)."""
    path = blobs.path_for(sha256)
    try:
        status = path.stat()
        if status.st_mtime >= written_before:
            return None
        path.unlink()
    except FileNotFoundError:
        return 0
    return status.st_size


class CacheBound:
    """Checks one proxy index against its limit after each download this process completes.

    The check runs in the background, so that the download's clients are not kept waiting, and one at a time:
    downloads that complete meanwhile ask for one more check rather than one each."""

    def __init__(self, shared: WorkerResources, index: str, limit: int) -> None:
        self._shared = shared
        self._index = index
        self._limit = limit
        self._running = False
        self._again = False

    def downloaded(self) -> None:
        if self._running:
            self._again = True
            return
        self._running = True
        self._shared.spawn(self._enforce())

    async def _enforce(self) -> None:
        try:
            while True:
                self._again = False
                try:
                    eviction = await self._shared.db(evict, self._shared, self._index, self._limit)
                except Exception as error:  # the database is busy: the next download checks again
                    log.warning("could not keep %s within its max_cache_size: %s", self._index, error)
                    return
                if eviction.files:
                    log.info(
                        "evicted %d file(s), %d bytes, from %s to stay within %d bytes",
                        len(eviction.files),
                        eviction.bytes_evicted,
                        self._index,
                        self._limit,
                    )
                if not self._again:
                    return
        finally:
            self._running = False
