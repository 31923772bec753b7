"""The bandwidth limit of `rennet mirror --bandwidth`, on a clock of the test's own."""

from __future__ import annotations

import asyncio

import pytest

from rennet.service.offline.pacing import Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_transfer_faster_than_the_limit_waits_after_a_second_of_burst() -> None:
    time = FakeTime()
    pace = Pacer(1000, time.clock, time.sleep)

    async def receive() -> None:
        for _ in range(30):
            await pace(100)  # 3000 bytes in no time at all

    asyncio.run(receive())
    # A second's worth (1000 bytes) passes at once; the other 2000 bytes take two seconds.
    assert time.now == pytest.approx(102.0)


def test_a_slow_transfer_never_waits() -> None:
    time = FakeTime()
    pace = Pacer(1000, time.clock, time.sleep)

    async def receive() -> None:
        for _ in range(10):
            await pace(500)
            time.now += 1.0  # the link gives 500 bytes a second, half the limit

    asyncio.run(receive())
    assert time.slept == []


def test_no_limit_of_nothing() -> None:
    with pytest.raises(ValueError, match="more than 0 bytes per second"):
        Pacer(0)
