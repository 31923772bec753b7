"""A bandwidth limit for the offline tools (`rennet mirror --bandwidth`): every transfer of a run shares it.

Each piece received books its share of time on one schedule; a transfer that runs ahead of the schedule sleeps
until the schedule catches up, allowing a burst of one second's worth, so a limit holds on average over seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["Pacer"]


class Pacer:
    def __init__(
        self,
        bytes_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if bytes_per_second <= 0:
            raise ValueError("a bandwidth limit must be more than 0 bytes per second")
        self._rate = bytes_per_second
        self._clock = clock
        self._sleep = sleep
        self._booked_until = clock() - 1.0  # a second's burst at the start too

    async def __call__(self, size: int) -> None:
        now = self._clock()
        # Time not used before is not saved up beyond one second's burst.
        self._booked_until = max(self._booked_until, now - 1.0) + size / self._rate
        if (wait := self._booked_until - now) > 0:
            await self._sleep(wait)
