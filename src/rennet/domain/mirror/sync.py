"""Which projects a mirror sync fetches: those whose upstream serial moved, whose last sync failed, or that were
synced under other filters. Pure; the service streams the upstream's listing and the catalog's rows through it.

Upstreams without serials (an HTML root, or JSON without `_last-serial`) give None: every project in scope is
then asked again, with a conditional request that costs a 304 when nothing changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rennet.domain.mirror.scope import MirrorScope

__all__ = ["SyncedState", "needs_sync", "scope_key"]


@dataclass(frozen=True, slots=True)
class SyncedState:
    """What the catalog remembers of a project's last sync."""

    serial: int | None
    scope: str
    failed: bool


def scope_key(scope: MirrorScope) -> str:
    """A short digest of the filters: a project synced under other filters is looked at again."""
    return hashlib.sha256(repr(scope).encode()).hexdigest()[:16]


def needs_sync(listed_serial: int | None, state: SyncedState | None, scope: str) -> bool:
    if state is None or state.failed or state.scope != scope:
        return True
    if listed_serial is None or state.serial is None:
        return True  # no serial to compare: a conditional request decides
    return listed_serial != state.serial
