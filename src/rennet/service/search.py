"""Searching the projects of every index a caller may read: hosted projects and those a proxy has cached.

Groups hold nothing of their own: a hit names the hosted or proxy index that has the project. Private indexes
the caller may not read are never asked, so their projects appear in no result (the rule of the Simple API,
domain/access.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from rennet.domain.access import Access, Identity, allowed
from rennet.domain.indexes import GroupIndex, IndexConfig
from rennet.domain.search import SearchHit, parse_query
from rennet.service.runtime.resources import WorkerResources

__all__ = ["MAX_HITS", "readable_sources", "search_projects"]

MAX_HITS = 50


def readable_sources(indexes: Iterable[IndexConfig], identity: Identity | None) -> list[str]:
    """The hosted and proxy indexes (not groups) that `identity` may read."""
    return [
        index.name for index in indexes if not isinstance(index, GroupIndex) and allowed(identity, index, Access.READ)
    ]


async def search_projects(
    shared: WorkerResources,
    indexes: Iterable[IndexConfig],
    identity: Identity | None,
    text: str,
    limit: int = MAX_HITS,
) -> list[SearchHit]:
    """The projects matching `text` in the indexes `identity` may read, best first."""
    query = parse_query(text)
    sources = readable_sources(indexes, identity)
    if not query or not sources:
        return []
    return await shared.db(shared.catalog.search, query, sources, limit)
