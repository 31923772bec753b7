"""What one worker counts for /metrics: requests (kind, status, cache outcome, duration, bytes sent) and what
its upstream clients did (responses by status, bytes received, failures by reason).

Counted in plain Python, a few dict updates per request (about 0.3 µs), and handed over in batches to the
exposition (rennet.web.metrics): prometheus-client's own counters in its multiprocess mode cost about 6 µs a
request (a lock and a write into a memory-mapped file per value), a sixth of what answering a cached page costs.
Once something was counted, `publish_every` hands the counts over within its delay; `flush` does it at once (a
scrape, a shutdown). Everything runs on the worker's event loop: no locks.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DURATION_BUCKETS", "Counts", "UpstreamMetrics", "WorkerMetrics"]

# Seconds: a cached page takes well under a millisecond, a large file or a cold page from a slow upstream minutes.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(slots=True)
class Counts:
    """What was counted since the last hand-over."""

    requests: dict[tuple[str, int, str], int] = field(default_factory=dict)  # (kind, status, cache)
    # (kind, bucket): bucket i counts durations up to DURATION_BUCKETS[i]; len(DURATION_BUCKETS) is +Inf
    durations: dict[tuple[str, int], int] = field(default_factory=dict)
    duration_sums: dict[str, float] = field(default_factory=dict)  # kind -> seconds
    sent: dict[str, int] = field(default_factory=dict)  # kind -> response bytes
    upstream_responses: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (index, kind, status)
    upstream_bytes: dict[tuple[str, str], int] = field(default_factory=dict)  # (index, kind)
    upstream_failures: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (index, kind, reason)
    policy: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (index, rule, action)


class WorkerMetrics:
    def __init__(self) -> None:
        self._counts = Counts()
        self._publish: Callable[[Counts], None] | None = None
        self._delay = 1.0
        self._scheduled = False

    def publish_every(self, delay: float, publish: Callable[[Counts], None]) -> None:
        """Hand the counts to `publish` at most `delay` seconds after something was counted."""
        self._publish = publish
        self._delay = delay

    def request(self, kind: str, status: int, cache: str, seconds: float, sent: int) -> None:
        """One answered request: the hot path's share, a handful of dict updates."""
        counts = self._counts
        key = (kind, status, cache)
        counts.requests[key] = counts.requests.get(key, 0) + 1
        bucket = (kind, bisect_left(DURATION_BUCKETS, seconds))
        counts.durations[bucket] = counts.durations.get(bucket, 0) + 1
        counts.duration_sums[kind] = counts.duration_sums.get(kind, 0.0) + seconds
        if sent:
            counts.sent[kind] = counts.sent.get(kind, 0) + sent
        if not self._scheduled:
            self._changed()

    def policy(self, index: str, rule: str, action: str, count: int = 1) -> None:
        """Policy decisions: files of a page `hidden` as it was built, requests and uploads `refused`."""
        key = (index, rule, action)
        self._counts.policy[key] = self._counts.policy.get(key, 0) + count
        self._changed()

    def upstream(self, index: str) -> UpstreamMetrics:
        """What the upstream client of one proxy index reports to (rennet.upstream.client.UpstreamObserver)."""
        return UpstreamMetrics(self, index)

    def take(self) -> Counts:
        """What was counted since the last call; counting starts again from zero."""
        taken, self._counts = self._counts, Counts()
        return taken

    def flush(self) -> None:
        """Hand the counts over now."""
        self._scheduled = False
        if self._publish is not None:
            self._publish(self.take())

    def _changed(self) -> None:
        if not self._scheduled and self._publish is not None:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self._delay, self.flush)


class UpstreamMetrics:
    """One proxy index's upstream traffic: `kind` is "page" (pages, project lists, JSON) or "file"."""

    __slots__ = ("_index", "_metrics")

    def __init__(self, metrics: WorkerMetrics, index: str) -> None:
        self._metrics = metrics
        self._index = index

    def answered(self, kind: str, status: int) -> None:
        counts = self._metrics._counts
        key = (self._index, kind, status)
        counts.upstream_responses[key] = counts.upstream_responses.get(key, 0) + 1
        self._metrics._changed()

    def received(self, kind: str, size: int) -> None:
        counts = self._metrics._counts
        key = (self._index, kind)
        counts.upstream_bytes[key] = counts.upstream_bytes.get(key, 0) + size
        self._metrics._changed()

    def failed(self, kind: str, reason: str) -> None:
        counts = self._metrics._counts
        key = (self._index, kind, reason)
        counts.upstream_failures[key] = counts.upstream_failures.get(key, 0) + 1
        self._metrics._changed()
