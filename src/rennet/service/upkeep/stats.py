"""What `rennet stats` reports: per index, what the catalog holds; per server run, how often the cache answered."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rennet.domain.indexes import GroupIndex, IndexConfig, ProxyIndex
from rennet.service.runtime.resources import Storage
from rennet.storage.counters import read_counters
from rennet.storage.maintenance import CatalogMaintenance, IndexCounts

__all__ = ["gather_stats"]

_NOTHING = IndexCounts(0, 0, 0, 0, 0, None)
_PAGE_STATES = ("hit", "miss", "refresh", "stale", "error")
_FILE_STATES = ("hit", "miss", "error")


def gather_stats(storage: Storage, indexes: Mapping[str, IndexConfig], counters: Path) -> dict[str, Any]:
    """Plain data (for --json, and for the table)."""
    counts = CatalogMaintenance(storage.catalog.engine).index_counts()
    now = time.time()
    described = {name: _index(config, counts.get(name, _NOTHING), now) for name, config in indexes.items()}
    return {"indexes": described, "requests": _requests(counters)}


def _index(config: IndexConfig, counts: IndexCounts, now: float) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": config.kind.value}
    if isinstance(config, GroupIndex):
        entry["members"] = list(config.members)
        return entry
    entry |= {
        "projects": counts.projects,
        "files": counts.files,
        "held_files": counts.held_files,
        "held_bytes": counts.held_bytes,
        "gone_files": counts.gone_files,
    }
    if isinstance(config, ProxyIndex):
        entry["max_cache_size"] = config.max_cache_size
        oldest = counts.oldest_page
        entry["oldest_page"] = (
            None
            if oldest is None
            else {"project": oldest[0], "confirmed_at": oldest[1], "age_seconds": now - oldest[1]}
        )
    return entry


def _requests(path: Path) -> dict[str, Any] | None:
    """Counts since the server started; a hit is an answer from rennet's cache without asking the upstream."""
    found = read_counters(path)
    if found is None:
        return None
    started, totals = found
    return {
        "since": started,
        "pages": _rates({state: totals[f"page_{state}"] for state in _PAGE_STATES}),
        "files": _rates({state: totals[f"file_{state}"] for state in _FILE_STATES}),
    }


def _rates(counts: dict[str, int]) -> dict[str, Any]:
    answered = sum(count for state, count in counts.items() if state != "error")
    return counts | {"total": answered + counts["error"], "hit_rate": counts["hit"] / answered if answered else None}
