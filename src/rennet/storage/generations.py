"""Change counters: how every worker learns that a page it keeps in memory changed.

Each worker keeps rendered pages in memory. A change made by any process (an upload, a refreshed upstream page)
bumps the counter of the page's slot; a worker compares the slot with the value it saw when it rendered the page,
which costs one memory read per request instead of a database query. Unrelated pages may share a slot: that only
causes a spare re-render.

On one host (SQLite) the counters are one memory-mapped file that every process of the data directory shares
(HostGenerations). On PostgreSQL, where servers on several hosts share the catalog, each process keeps its own
counters and hears of other processes' changes through the database (storage/clustergenerations.py).
"""

from __future__ import annotations

import fcntl
import os
import struct
import zlib
from pathlib import Path
from typing import NamedTuple, Protocol

from rennet.storage._mapped import map_allocated

__all__ = ["SLOTS", "Generation", "Generations", "HostGenerations", "slot_of"]

SLOTS = 4096
_SLOT = struct.Struct("<Q")


class Generation(NamedTuple):
    """A slot and the value it had when something was read: still current while the slot keeps that value."""

    slot: int
    value: int


def slot_of(index: str, project: str = "") -> int:
    """The counter of an index's project page (`project` "" is its project list)."""
    return zlib.crc32(f"{index}\0{project}".encode()) % SLOTS


class Generations(Protocol):
    def get(self, slot: int) -> int:
        """The slot's value now; a change anywhere makes it differ from every value read before."""

    def bump(self, slot: int) -> int:
        """Announce a change of what the slot covers; returns the slot's new value in this process."""

    def follow(self) -> None:
        """Start hearing of other processes' changes: a server's worker does; a command only announces its own."""

    def close(self) -> None: ...


class HostGenerations:
    """The counters of every process on this host, in one memory-mapped file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._map = map_allocated(fd, SLOTS * _SLOT.size)
        finally:
            os.close(fd)
        self._lock_path = path.with_suffix(".lock")

    def get(self, slot: int) -> int:
        return int(_SLOT.unpack_from(self._map, slot * _SLOT.size)[0])

    def bump(self, slot: int) -> int:
        # Read-modify-write across processes needs a lock; bumps are rare next to reads.
        with open(self._lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            value = self.get(slot) + 1
            _SLOT.pack_into(self._map, slot * _SLOT.size, value)
        return value

    def follow(self) -> None:
        pass  # every process of the host reads the same memory

    def close(self) -> None:
        self._map.close()
