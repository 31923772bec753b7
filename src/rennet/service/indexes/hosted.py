"""A hosted index: private packages uploaded to rennet (uploads arrive through rennet.service.publishing)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Hashable
from dataclasses import replace

from rennet.domain.advisories import Advisory
from rennet.domain.files import ProjectPage
from rennet.domain.indexes import HostedIndex, IndexKind
from rennet.service.answers import CacheOutcome, FileAnswer, Listing
from rennet.service.errors import NotFound, Unavailable
from rennet.service.indexes.interface import listed_file
from rennet.service.indexes.listing import WithoutDenied, write_listing
from rennet.service.indexes.provenance import held_provenance, no_provenance
from rennet.service.runtime.pagecache import CachedPage
from rennet.service.runtime.policing import PolicyGate
from rennet.service.runtime.resources import WorkerResources
from rennet.storage.catalog import FileRecord
from rennet.storage.generations import Generation

__all__ = ["HostedService"]


class HostedService:
    kind = IndexKind.HOSTED
    holds_uploads = True

    def __init__(self, config: HostedIndex, shared: WorkerResources) -> None:
        self.name = config.name
        self.config = config
        self.shared = shared
        self.gate = PolicyGate.of(config, shared.metrics)
        self._without_denied = WithoutDenied(shared.listings_dir, config.name, self.gate.policy.unlisted)
        self._listing: tuple[Generation, Listing] | None = None

    async def project_page(self, project: str) -> CachedPage:
        return await self.shared.page((self.name, project), lambda cached: self._load_page(project, cached))

    async def _load_page(self, project: str, cached: CachedPage | None) -> CachedPage:
        dependency = self.shared.dependency(self.name, project)
        record = await self.shared.db(self.shared.catalog.project, self.name, project)
        if record is None:
            page = CachedPage(
                None, (dependency,), math.inf, None, "miss", f"no project named {project!r} in {self.name}"
            )
        elif cached is not None and cached.version == record.revision:
            advisories = await self.shared.advisories_for(project)
            page = self._cached(cached.source, record.revision, dependency, "hit", advisories)
            page.adopt(cached)
        else:
            content = await self.shared.db(self.shared.catalog.page, record)
            advisories = await self.shared.advisories_for(project)
            page = self._cached(content, record.revision, dependency, "miss", advisories)
        self.shared.pages.put((self.name, project), page)
        return page

    def _cached(
        self,
        content: ProjectPage | None,
        revision: Hashable,
        dependency: Generation,
        state: CacheOutcome,
        advisories: tuple[Advisory, ...],
    ) -> CachedPage:
        now = self.shared.clock.now()
        return CachedPage(
            content, (dependency,), math.inf, revision, state, gate=self.gate, now=now, advisories=advisories
        )

    async def open_file(self, project: str, filename: str) -> FileAnswer:
        return await self._open(project, filename, filename, lambda record: record.blob_sha256)

    async def open_metadata(self, project: str, filename: str) -> FileAnswer:
        if not filename.endswith(".whl"):
            # PEP 658 metadata is for wheels; an sdist's PKG-INFO is kept for the JSON API only.
            raise NotFound(f"{filename} has no metadata file (only wheels do)")
        return await self._open(project, filename, filename + ".metadata", lambda record: record.metadata_sha256)

    async def provenance(self, project: str, filename: str) -> bytes:
        """What the upload's attestations made (service/publishing/attestations.py), if it carried any."""
        record = await listed_file(self.shared, self.name, await self.project_page(project), project, filename)
        if record is None:
            raise NotFound(f"{self.name} has no file {filename!r} for project {project!r}")
        found = await held_provenance(self.shared, record)
        if found is None:
            raise no_provenance(self.name, filename)
        return found

    async def _open(
        self, project: str, filename: str, name: str, blob_of: Callable[[FileRecord], str | None]
    ) -> FileAnswer:
        if (held := self.shared.held_file(self.name, project, name)) is not None:
            return held
        dependency = self.shared.dependency(self.name, project)
        record = await listed_file(self.shared, self.name, await self.project_page(project), project, filename)
        sha256 = blob_of(record) if record is not None else None
        found = await self.shared.open_stored(sha256) if sha256 else None
        if found is None:
            raise NotFound(f"{self.name} has no {name!r} for project {project!r}")
        self.shared.hold_file(self.name, project, name, dependency, found)
        return found

    async def listing(self) -> Listing:
        return await self._without_denied(await self._whole_listing())

    async def _whole_listing(self) -> Listing:
        dependency = self.shared.dependency(self.name)
        if self._listing is not None and self._listing[0] == dependency:
            return self._listing[1]
        try:
            names = await self.shared.db(self.shared.catalog.project_names, self.name)
        except Unavailable:
            if self._listing is None:
                raise
            return replace(self._listing[1], cache="stale")  # the database is down: the list this worker had
        stem, digest, count = await asyncio.to_thread(write_listing, self.shared.listings_dir / self.name, names)
        listing = Listing(stem, digest, count, "miss")
        self._listing = (dependency, listing)
        return listing
