"""The time that expiry decisions read: page TTLs, upstream retry windows, remembered logins, database retries.

One clock per worker, handed to everything that decides by time. It is the system's clock; tests move it forward
instead of sleeping through a TTL.
"""

from __future__ import annotations

import time

__all__ = ["Clock"]


class Clock:
    __slots__ = ("skew",)

    def __init__(self) -> None:
        self.skew = 0.0

    def now(self) -> float:
        """Seconds since the epoch, as time.time()."""
        return time.time() + self.skew

    def monotonic(self) -> float:
        """For intervals: unaffected by changes to the system's clock."""
        return time.monotonic() + self.skew

    def advance(self, seconds: float) -> None:
        self.skew += seconds
