"""Refreshing the cached pages of proxy indexes ahead of requests (`rennet refresh`).

Each page goes through the proxy's own refresh (a conditional request, the same bookkeeping and generation bumps
as a request would cause), so running servers serve what changed at once. A page that fails keeps its old
confirmation time and is retried by the next run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rennet.domain.changes import PageChanges
from rennet.service.indexes.proxy import ProxyService
from rennet.service.runtime.resources import Storage, page_changed
from rennet.storage.maintenance import CatalogMaintenance
from rennet.upstream.client import UpstreamError

__all__ = ["PageOutcome", "RefreshReport", "prune_gone", "refresh_pages", "stale_pages"]


PageState = Literal["unchanged", "changed", "vanished", "failed"]  # vanished: the upstream no longer has it


@dataclass(frozen=True, slots=True)
class PageOutcome:
    index: str
    project: str
    state: PageState
    changes: PageChanges = field(default_factory=PageChanges)
    error: str | None = None


@dataclass(slots=True)
class RefreshReport:
    pages: list[PageOutcome] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)  # "index/project/filename" of rows removed by --prune

    def count(self, state: PageState) -> int:
        return sum(1 for page in self.pages if page.state == state)

    def files(self, kind: str) -> list[str]:
        """Filenames across pages: kind is "added", "yanked", "unyanked", "gone" or "updated"."""
        return [name for page in self.pages for name in getattr(page.changes, kind)]

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0


def stale_pages(storage: Storage, indexes: Sequence[str], confirmed_before: float) -> list[tuple[str, str]]:
    """(index, project) of the cached pages last confirmed upstream before that moment, oldest first."""
    maintenance = CatalogMaintenance(storage.catalog.engine)
    return [
        (index, name) for index in indexes for name in maintenance.pages_confirmed_before(index, confirmed_before)
    ]


async def refresh_pages(
    proxies: dict[str, ProxyService],
    pages: Sequence[tuple[str, str]],
    concurrency: int,
    done: Callable[[PageOutcome], None],
) -> list[PageOutcome]:
    """Refresh every page, `concurrency` at a time; `done` hears of each as it finishes."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: str, project: str) -> PageOutcome:
        async with gate:
            outcome = await _refresh_one(proxies[index], project)
        done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(index, project) for index, project in pages)))


async def _refresh_one(proxy: ProxyService, project: str) -> PageOutcome:
    try:
        changes = await proxy.refresh(project)
    except UpstreamError as error:
        return PageOutcome(proxy.name, project, "failed", error=str(error))
    except Exception as error:  # one page's trouble (the database, a bug) must not end the run
        return PageOutcome(proxy.name, project, "failed", error=f"{type(error).__name__}: {error}")
    if changes is None:
        return PageOutcome(proxy.name, project, "vanished")
    return PageOutcome(proxy.name, project, "changed" if changes else "unchanged", changes)


def prune_gone(storage: Storage, indexes: Sequence[str]) -> list[str]:
    """Remove the files no longer listed upstream (their blobs stay for `rennet gc`)."""
    maintenance = CatalogMaintenance(storage.catalog.engine)
    removed: list[str] = []
    for index in indexes:
        rows = maintenance.prune_gone(index)
        for project in sorted({project for project, _ in rows}):
            page_changed(storage, index, project)
        removed += [f"{index}/{project}/{filename}" for project, filename in rows]
    return removed
