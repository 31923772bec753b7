"""When held files were last sent, for the least-recently-used eviction of bounded caches.

A database write per request would cost more than sending the file: each worker notes the time in memory and
writes what it noted every few seconds, in one transaction, and once more when it stops.
"""

from __future__ import annotations

import asyncio
import logging
import time

from rennet.storage.maintenance import CatalogMaintenance

__all__ = ["FLUSH_EVERY", "AccessTimes"]

log = logging.getLogger("rennet.accesses")

FLUSH_EVERY = 5.0

Key = tuple[str, str, str]  # index, project, filename


class AccessTimes:
    def __init__(self, maintenance: CatalogMaintenance, every: float = FLUSH_EVERY) -> None:
        self._maintenance = maintenance
        self._every = every
        self._pending: dict[Key, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None

    def note(self, index: str, project: str, filename: str) -> None:
        self._pending[(index, project, filename)] = time.time()
        if self._timer is None and self._writing is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # a synchronous caller: written by close()
            self._timer = loop.call_later(self._every, self._start_writing)

    def _start_writing(self) -> None:
        self._timer = None
        self._writing = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        # Taken on the event loop, where note() runs: the thread then owns the batch alone.
        batch, self._pending = self._pending, {}
        try:
            await asyncio.to_thread(self._store, batch)
        finally:
            self._writing = None
        if self._pending:
            self._timer = asyncio.get_running_loop().call_later(self._every, self._start_writing)

    def _store(self, batch: dict[Key, float]) -> None:
        try:
            self._maintenance.touch_files(batch)
        except Exception as error:  # the database is busy or gone: access times are a hint, not worth a crash
            log.warning("could not record when %d file(s) were last sent: %s", len(batch), error)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None:
            await asyncio.shield(self._writing)
        batch, self._pending = self._pending, {}
        await asyncio.to_thread(self._store, batch)
