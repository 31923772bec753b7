"""Change counters shared by every worker process through one memory-mapped file.

Each worker keeps rendered pages in memory. A change made by any process (an upload, a refreshed upstream page)
bumps the counter of the page's slot; a worker compares the slot with the value it saw when it rendered the page,
which costs one memory read per request instead of a database query. Unrelated pages may share a slot: that only
causes a spare re-render.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

__all__ = ["Generation", "Generations"]

SLOTS = 4096
_SLOT = struct.Struct("<Q")


class Generation(NamedTuple):
    """A slot and the value it had when something was read: still current while the slot keeps that value."""

    slot: int
    value: int


class Generations:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < SLOTS * _SLOT.size:
                os.ftruncate(fd, SLOTS * _SLOT.size)
            self._map = mmap.mmap(fd, SLOTS * _SLOT.size)
        finally:
            os.close(fd)
        self._lock_path = path.with_suffix(".lock")

    @staticmethod
    def slot(index: str, project: str = "") -> int:
        return zlib.crc32(f"{index}\0{project}".encode()) % SLOTS

    def get(self, slot: int) -> int:
        return int(_SLOT.unpack_from(self._map, slot * _SLOT.size)[0])

    def bump(self, slot: int) -> int:
        # Read-modify-write across processes needs a lock; bumps are rare next to reads.
        with open(self._lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            value = self.get(slot) + 1
            _SLOT.pack_into(self._map, slot * _SLOT.size, value)
        return value

    def close(self) -> None:
        self._map.close()
