"""A group index: several indexes behind one URL, combined by the rules in rennet.domain.groups."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import replace

from rennet.domain.groups import MemberPage, merge_group_page, merge_hidden, needs_proxies
from rennet.domain.indexes import GroupIndex, IndexKind, ProxyIndex
from rennet.service.answers import CacheOutcome, FileAnswer, Listing
from rennet.service.errors import NotFound, ServiceError, Unavailable
from rennet.service.indexes.interface import IndexService, listing_index
from rennet.service.indexes.listing import WithoutDenied, merged_names, write_listing
from rennet.service.runtime.pagecache import CachedPage
from rennet.service.runtime.policing import PolicyGate
from rennet.service.runtime.resources import WorkerResources
from rennet.service.singleflight import SingleFlight

__all__ = ["GroupService"]

log = logging.getLogger("rennet.group")


class GroupService:
    kind = IndexKind.GROUP

    def __init__(self, config: GroupIndex, shared: WorkerResources, members: Sequence[IndexService]) -> None:
        self.name = config.name
        self.config = config
        self.shared = shared
        self.members = tuple(members)  # leaf members, in order
        self._hosted = [m for m in self.members if m.kind is IndexKind.HOSTED]
        self._proxies = [m for m in self.members if m.kind is IndexKind.PROXY]
        self.holds_uploads = bool(self._hosted)
        proxies = frozenset(m.name for m in self._proxies)
        self.gate = PolicyGate.of(config, shared.metrics, proxies)
        self._without_denied = WithoutDenied(shared.listings_dir, config.name, self.gate.policy.unlisted)
        self._flights: SingleFlight[CachedPage] = SingleFlight()
        self._listing: tuple[tuple[str, ...], Listing] | None = None

    async def project_page(self, project: str) -> CachedPage:
        return await self.shared.page(
            (self.name, project), lambda cached: self._flights.run(project, lambda: self._combine(project, cached))
        )

    async def _combine(self, project: str, cached: CachedPage | None) -> CachedPage:
        consulted: dict[str, CachedPage] = {}
        hosted = await asyncio.gather(*(m.project_page(project) for m in self._hosted))
        consulted.update(zip((m.name for m in self._hosted), hosted, strict=True))
        hosted_pages = [_member(m, page) for m, page in zip(self._hosted, hosted, strict=True)]
        now = self.shared.clock.now()
        failure, fresh_until = None, math.inf
        if needs_proxies(hosted_pages, project in self.config.allow_upstream):
            failure, fresh_until = await self._ask_proxies(project, consulted, now)
        members = [_member(m, consulted[m.name]) for m in self.members if m.name in consulted]
        merged = merge_group_page(members, project in self.config.allow_upstream)
        hidden = merge_hidden(members, project in self.config.allow_upstream, merged)
        if merged is None and failure is not None:
            raise failure  # nobody has it, and a member that might could not be asked
        deps = tuple(dep for page in consulted.values() for dep in page.deps)
        fresh_until = min([fresh_until, *(page.fresh_until for page in consulted.values())])
        if not consulted:
            fresh_until = now
        version = tuple((name, page.version, page.withheld) for name, page in consulted.items())
        states = {page.state for page in consulted.values()}
        state: CacheOutcome = "stale" if "stale" in states else "miss" if states & {"miss", "refresh"} else "hit"
        message = None if merged else f"no project named {project!r} in {self.name}"
        advisories = await self.shared.advisories_for(project)
        combined = CachedPage(
            merged, deps, fresh_until, version, state, message, self.name, self.gate, now, hidden, advisories
        )
        if cached is not None and cached.version == version:
            combined.adopt(cached)
        self.shared.pages.put((self.name, project), combined)
        return combined

    async def _ask_proxies(
        self, project: str, consulted: dict[str, CachedPage], now: float
    ) -> tuple[ServiceError | None, float]:
        """Ask the proxies in order until one has the project (their pages go into `consulted`). A proxy whose
        upstream fails is left out, not the whole group: returns its failure, and until when the answer holds
        (when that proxy would try its upstream again, and might have the project)."""
        failure: ServiceError | None = None
        fresh_until = math.inf
        for proxy in self._proxies:
            try:
                found = await proxy.project_page(project)
            except Unavailable:
                raise  # the database: no member can answer
            except ServiceError as error:
                log.warning("%s: leaving out %s for %s: %s", self.name, proxy.name, project, error.message)
                failure = failure or error
                retry_after = proxy.config.retry_after if isinstance(proxy.config, ProxyIndex) else 0.0
                fresh_until = min(fresh_until, now + retry_after)
                continue
            consulted[proxy.name] = found
            if found.page is not None:
                break
        return failure, fresh_until

    async def _owner(self, project: str, filename: str) -> IndexService:
        """The member that provides a file, under the group's rules (a hidden file stays hidden)."""
        owner = listing_index(self.shared, await self.project_page(project), filename)
        if owner is not None:
            return next(m for m in self.members if m.name == owner)
        raise NotFound(f"{self.name} has no file {filename!r} for project {project!r}")

    async def open_file(self, project: str, filename: str) -> FileAnswer:
        return await (await self._owner(project, filename)).open_file(project, filename)

    async def open_metadata(self, project: str, filename: str) -> FileAnswer:
        return await (await self._owner(project, filename)).open_metadata(project, filename)

    async def provenance(self, project: str, filename: str) -> bytes:
        return await (await self._owner(project, filename)).provenance(project, filename)

    async def listing(self) -> Listing:
        return await self._without_denied(await self._whole_listing())

    async def _whole_listing(self) -> Listing:
        results = await asyncio.gather(*(m.listing() for m in self.members), return_exceptions=True)
        available: list[Listing] = []
        for member, result in zip(self.members, results, strict=True):
            if isinstance(result, Unavailable) and self._listing is not None:
                return replace(self._listing[1], cache="stale")  # the database is down: the list this worker had
            if isinstance(result, ServiceError):
                log.warning("project list of %s leaves out %s: %s", self.name, member.name, result.message)
            elif isinstance(result, BaseException):
                raise result
            else:
                available.append(result)
        key = tuple(listing.digest for listing in available)
        if self._listing is not None and self._listing[0] == key:
            return self._listing[1]
        stems = [listing.stem for listing in available]
        directory = self.shared.listings_dir / self.name
        stem, digest, count = await asyncio.to_thread(write_listing, directory, merged_names(stems))
        listing = Listing(stem, digest, count, "miss")
        self._listing = (key, listing)
        return listing


def _member(service: IndexService, page: CachedPage) -> MemberPage:
    return MemberPage(service.name, service.kind, page.page, page.hidden)
