"""`rennet mirror --all` and `--sync`: a proxy index filled with every project of its upstream in scope, kept in
sync incrementally.

Protocol of one run:
1. The upstream's root listing is streamed to a file (PEP 691 JSON preferred: PyPI's carries `_last-serial` per
   project), then into a work list on disk beside the catalog's rows of the mirror (storage/mirrorwork.py).
2. Projects in scope whose serial moved, whose last sync failed, or that were synced under other filters
   (domain/mirror/sync.py) go through `concurrency` workers. Each refreshes the project's page through the proxy
   (a conditional request; yanks, status changes and files gone upstream are stored as a request would store
   them), then fetches the files in scope that are not held, through the same download, hash check and
   content-addressed store as a client's request (service/offline/fetching.py).
3. A project's row is written when it ends: synced (with its serial), or failed with the reason, retried next
   time. An interrupted run resumes where it stopped.
4. With `remove` (`--sync`): files gone from a page are pruned, and so is a project the listing no longer names,
   once its own page answers 404 (pep381client's "remove what is gone"; blobs stay for `rennet gc`).

Before each project's files, the disk must keep `min_free` bytes after them; otherwise the run stops with a
sentence and nothing half-fetched stays (a download in flight finishes or is dropped as a client's would be).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from rennet.domain.files import DistFile
from rennet.domain.mirror.scope import MirrorScope
from rennet.domain.mirror.sync import SyncedState, needs_sync, scope_key
from rennet.domain.names import NormalizedName, canonical_name
from rennet.service.errors import ServiceError
from rennet.service.indexes.proxy import ProxyService
from rennet.service.offline.fetching import FetchProgress, FileFetcher, FileOutcome, reason
from rennet.service.runtime.resources import page_changed
from rennet.storage.maintenance import CatalogMaintenance
from rennet.storage.mirrorstate import MirrorStates
from rennet.storage.mirrorwork import WorkList
from rennet.upstream.client import UpstreamError
from rennet.upstream.parse import iter_listing_entries

__all__ = ["MirrorSync", "ProjectOutcome", "SyncOptions", "SyncProgress", "SyncReport"]

ProjectState = Literal["synced", "unchanged", "removed", "failed"]
MAX_FAILURES_KEPT = 1000  # failures named in the report; the rest are counted (and all are in the catalog)


@dataclass(frozen=True, slots=True)
class SyncOptions:
    scope: MirrorScope
    concurrency: int = 8
    remove: bool = False  # --sync: apply removals upstream
    min_free: int = 1 << 30  # bytes the disk keeps free after each project's files


@dataclass(frozen=True, slots=True)
class ProjectOutcome:
    name: str
    state: ProjectState
    files: tuple[FileOutcome, ...] = ()
    pruned: int = 0
    yanked: int = 0
    error: str | None = None
    withheld: int = 0  # files in scope the index's policy hides for now


@dataclass(slots=True)
class SyncReport:
    """Counts, and the failures by project: bounded whatever the upstream's size."""

    listed: int = 0
    in_scope: int = 0
    projects: dict[str, int] = field(default_factory=dict)  # state -> count
    files: dict[str, int] = field(default_factory=dict)  # fetched / cached / failed -> count
    bytes_fetched: int = 0
    pruned: int = 0
    yanked: int = 0
    withheld: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped before the end (the disk)
    seconds: float = 0.0

    def add(self, outcome: ProjectOutcome) -> None:
        self.projects[outcome.state] = self.projects.get(outcome.state, 0) + 1
        for file in outcome.files:
            self.files[file.state] = self.files.get(file.state, 0) + 1
            if file.state == "fetched":
                self.bytes_fetched += file.size
        self.pruned += outcome.pruned
        self.yanked += outcome.yanked
        self.withheld += outcome.withheld
        if outcome.error is not None and len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append((outcome.name, outcome.error))

    @property
    def ok(self) -> bool:
        return not self.projects.get("failed") and self.stopped is None


class SyncProgress(FetchProgress, Protocol):
    def listed(self, projects: int) -> None:
        """How many projects this run looks at."""

    def project_done(self, outcome: ProjectOutcome) -> None: ...


class _DiskLow(Exception):
    pass


class MirrorSync:
    """One run over one proxy index."""

    def __init__(self, proxy: ProxyService, options: SyncOptions, progress: SyncProgress) -> None:
        self._proxy = proxy
        self._shared = proxy.shared
        self._options = options
        self._scope_key = scope_key(options.scope)
        self._states = MirrorStates(self._shared.catalog.engine)
        self._progress = progress
        self._fetcher = FileFetcher(proxy, options.concurrency, progress)
        self._report = SyncReport()

    async def run(self) -> SyncReport:
        started = time.monotonic()
        # The work files go in the data directory: it has room for the store, so for a list of names too.
        with tempfile.TemporaryDirectory(dir=self._shared.listings_dir.parent, prefix=".mirror-") as temp:
            try:
                work = await self._work_list(Path(temp))
            except (UpstreamError, ServiceError) as error:
                self._report.stopped = f"the upstream's project list could not be read: {reason(error)}"
                return self._report
            try:
                await self._sync_listed(work)
                if self._options.remove and self._report.stopped is None:
                    await self._remove_unlisted(work)
            finally:
                await asyncio.to_thread(work.close)
        self._report.seconds = time.monotonic() - started
        return self._report

    # -- the listing --------------------------------------------------------------------------------------------

    async def _work_list(self, temp: Path) -> WorkList:
        listing = temp / "listing"
        with listing.open("wb") as sink:
            fetched = await self._proxy.client.fetch_page(
                self._proxy.client.base_url, None, sink, self._shared.max_listing_bytes
            )
        if fetched.status != "ok":
            raise UpstreamError(f"{self._proxy.client.base_url} answered 404")
        work = WorkList(temp / "work.sqlite")
        scope = self._options.scope

        def entries() -> Iterator[tuple[str, int | None, bool]]:
            for name, serial in iter_listing_entries(listing, fetched.content_type):
                normalized = canonical_name(name)
                yield normalized, serial, scope.wants(normalized)

        def remembered() -> None:
            for batch in self._states.batches(self._proxy.name):
                work.add_stored(batch)

        self._report.listed = await asyncio.to_thread(work.add_listed, entries())
        await self._shared.db(remembered)
        self._report.in_scope = await asyncio.to_thread(work.wanted)
        listing.unlink()
        return work

    # -- projects in scope ----------------------------------------------------------------------------------------

    async def _sync_listed(self, work: WorkList) -> None:
        """Every project to sync through `concurrency` workers, fed from the work list a few at a time."""
        queue: asyncio.Queue[tuple[str, int | None] | None] = asyncio.Queue(maxsize=self._options.concurrency * 4)
        workers = [asyncio.ensure_future(self._worker(queue)) for _ in range(self._options.concurrency)]
        self._progress.listed(self._report.in_scope)
        try:
            for name, serial, remembered in work.in_scope():
                if self._report.stopped is not None:
                    break
                state = SyncedState(*remembered) if remembered is not None else None
                if needs_sync(serial, state, self._scope_key):
                    await queue.put((name, serial))
                else:
                    self._done(ProjectOutcome(name, "unchanged"))
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()

    async def _worker(self, queue: asyncio.Queue[tuple[str, int | None] | None]) -> None:
        while (item := await queue.get()) is not None:
            if self._report.stopped is None:
                self._done(await self._sync_project(*item))

    def _done(self, outcome: ProjectOutcome) -> None:
        self._report.add(outcome)
        self._progress.project_done(outcome)

    async def _sync_project(self, name: str, serial: int | None) -> ProjectOutcome:
        try:
            return await self._sync_or_raise(NormalizedName(name), serial)
        except _DiskLow as error:
            self._report.stopped = str(error)  # the other projects stop too
            return await self._failed(name, str(error))
        except (UpstreamError, ServiceError) as error:
            return await self._failed(name, reason(error))
        except Exception as error:  # one project's trouble (a bug, the database) must not end the run
            return await self._failed(name, f"{type(error).__name__}: {error}")
        finally:
            # Each project is synced once a run: its page in memory would only add up over the upstream's size.
            self._shared.pages.discard((self._proxy.name, name))

    async def _sync_or_raise(self, name: NormalizedName, serial: int | None) -> ProjectOutcome:
        changes = await self._proxy.refresh(name)
        # A page gone upstream still lists the files held of it, marked gone (as pep381client): pruned here.
        pruned = await self._prune(name) if self._options.remove else 0
        cached = await self._proxy.project_page(name)
        if changes is None or cached.page is None or cached.source is None:  # listed, yet its page is gone
            if self._options.remove:
                return await self._removed(name, pruned)
            # The upstream's list and its pages disagree: a failure, tried again by the next run.
            return await self._failed(name, "the upstream lists this project, but has no page for it")
        files = self._options.scope.files(cached.source)
        # What the index's policy hides now (a cooldown, a deny rule) is not fetched; the project is looked at
        # again next time (no serial kept), when a cooldown may have passed.
        withheld = [f for f in files if f.filename in cached.hidden]
        if withheld:
            serial = None
        missing = await self._shared.db(self._not_held, name, [f for f in files if f.filename not in cached.hidden])
        await asyncio.to_thread(self._check_disk, name, missing)
        self._progress.planned(len(missing), sum(f.size or 0 for f in missing))
        outcomes = await asyncio.gather(*(self._fetcher.fetch(name, f) for f in missing))
        failed = [o for o in outcomes if o.state == "failed"]
        yanked = len(changes.yanked)
        if failed:
            error = f"{len(failed)} file(s) failed, first {failed[0].filename}: {failed[0].error}"
            return await self._failed(name, error, tuple(outcomes), pruned, yanked)
        await self._shared.db(self._states.synced, self._proxy.name, name, serial, self._scope_key, time.time())
        state: ProjectState = "synced" if changes or outcomes or pruned else "unchanged"
        return ProjectOutcome(name, state, tuple(outcomes), pruned, yanked, withheld=len(withheld))

    async def _failed(
        self, name: str, error: str, files: tuple[FileOutcome, ...] = (), pruned: int = 0, yanked: int = 0
    ) -> ProjectOutcome:
        try:
            await self._shared.db(self._states.failed, self._proxy.name, name, error, self._scope_key, time.time())
        except ServiceError as unrecorded:
            error += f" (and it could not be recorded: {unrecorded.message})"
        return ProjectOutcome(name, "failed", files, pruned, yanked, error)

    def _not_held(self, name: str, files: list[DistFile]) -> list[DistFile]:
        held = self._shared.catalog.held_filenames(self._proxy.name, name)
        return [file for file in files if file.filename not in held]

    def _check_disk(self, name: str, files: list[DistFile]) -> None:
        needed = sum(f.size or 0 for f in files)
        if not files:
            return
        free = shutil.disk_usage(self._shared.blobs.root).free
        if free - needed < self._options.min_free:
            raise _DiskLow(
                f"stopped before {name}: its files need {needed:,} bytes and the data directory's disk has "
                f"{free:,} free, less than the {self._options.min_free:,} to keep free; free some space "
                "(or lower --min-free) and run it again to carry on"
            )

    # -- removals -------------------------------------------------------------------------------------------------

    async def _prune(self, name: str) -> int:
        """The project's files gone upstream, removed from the catalog (their blobs go at gc)."""
        maintenance = CatalogMaintenance(self._shared.catalog.engine)
        rows = await self._shared.db(maintenance.prune_gone, self._proxy.name, name)
        if rows:
            page_changed(self._shared, self._proxy.name, name)
        return len(rows)

    async def _removed(self, name: str, pruned: int) -> ProjectOutcome:
        await self._shared.db(self._states.forget, self._proxy.name, name)
        return ProjectOutcome(name, "removed", pruned=pruned)

    async def _remove_unlisted(self, work: WorkList) -> None:
        """Projects mirrored before that the listing no longer names: removed once their page is gone too."""
        if self._report.listed == 0:
            return  # an empty listing is a broken upstream, not one whose projects all went away
        unlisted = await asyncio.to_thread(work.gone)
        if unlisted:
            self._progress.listed(self._report.in_scope + len(unlisted))  # looked at too: the bar ends at its total
        for name in unlisted:
            try:
                changes = await self._proxy.refresh(name)
                pruned = await self._prune(name)
                cached = await self._proxy.project_page(name)
                gone = changes is None or cached.page is None or not cached.page.files
                outcome = await self._removed(name, pruned) if gone else ProjectOutcome(name, "unchanged", (), pruned)
            except (UpstreamError, ServiceError) as error:
                outcome = await self._failed(name, reason(error))
            self._done(outcome)
