"""An index as it was at an instant, served below /<index>/snapshot/<instant>/: its pages (already screened by
its own policy) screened again by upload time, and its files under the snapshot's URLs, so the snapshot's rule
holds for file requests too. Any kind of index, groups included; nothing is stored for it."""

from __future__ import annotations

import logging

from rennet.domain.indexes import IndexConfig, IndexKind
from rennet.domain.policy import Policy, Snapshot, timestamp
from rennet.service.answers import FileAnswer, Listing
from rennet.service.errors import NotFound
from rennet.service.indexes.interface import IndexService, listing_index
from rennet.service.runtime.pagecache import CachedPage
from rennet.service.runtime.policing import PolicyGate
from rennet.service.runtime.resources import WorkerResources

__all__ = ["SnapshotService"]


class SnapshotService:
    def __init__(self, base: IndexService, instant: float, shared: WorkerResources) -> None:
        self.base = base
        self.instant = instant
        self.shared = shared
        # The path below the server root that file URLs of its pages lead to (as a group's name does).
        self.name = f"{base.name}/snapshot/{timestamp(instant, exact=True)}"
        self.kind: IndexKind = base.kind
        self.holds_uploads = base.holds_uploads
        # What a snapshot leaves out is the point of asking for one: counted, logged at debug level only.
        self.gate = PolicyGate(base.name, Policy((Snapshot(base.name, instant),)), shared.metrics, logging.DEBUG)

    @property
    def config(self) -> IndexConfig:
        return self.base.config

    async def project_page(self, project: str) -> CachedPage:
        current = await self.base.project_page(project)
        key = (self.name, project)
        version = (current.version, current.withheld)
        held = self.shared.pages.get(key)
        if (
            held is not None
            and held.version == version
            and (held.deps, held.fresh_until)
            == (
                current.deps,
                current.fresh_until,
            )
        ):
            held.state = current.state
            return held
        page = CachedPage(
            current.page,
            current.deps,
            current.fresh_until,
            version,
            current.state,
            current.message,
            self.name,
            self.gate,
            self.shared.clock.now(),
            current.hidden,
        )
        if held is not None and held.version == version:
            page.adopt(held)
        self.shared.pages.put(key, page)
        return page

    async def open_file(self, project: str, filename: str) -> FileAnswer:
        await self._listed(project, filename)
        return await self.base.open_file(project, filename)

    async def open_metadata(self, project: str, filename: str) -> FileAnswer:
        await self._listed(project, filename)
        return await self.base.open_metadata(project, filename)

    async def provenance(self, project: str, filename: str) -> bytes:
        await self._listed(project, filename)
        return await self.base.provenance(project, filename)

    async def listing(self) -> Listing:
        """Every project the index has now (one that came later lists no files)."""
        return await self.base.listing()

    async def _listed(self, project: str, filename: str) -> None:
        if listing_index(self.shared, await self.project_page(project), filename) is None:
            raise NotFound(f"{self.name} has no file {filename!r} for project {project!r}")
