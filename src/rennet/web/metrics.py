"""/metrics: Prometheus's text format, made by prometheus-client.

Each worker counts in plain Python (rennet.service.runtime.metrics) and publishes what it counted into
prometheus-client's metrics within a second, and at once before it answers a scrape. Under `rennet serve`, whose
workers are processes of their own, prometheus-client's multiprocess mode is on (PROMETHEUS_MULTIPROC_DIR, a
directory of the server's own below run/metrics/): each worker's values live in memory-mapped files there, and a
scrape, whichever worker answers it, adds up every worker's (counts published by the others may be up to a second
old). Without that variable (uvicorn, the tests' in-process server) a scrape shows the worker that answers it.

What it shows is route kinds, statuses, cache outcomes, index names and sizes: never a project's name, a path, a
user or an address, so it asks for no login. `metrics = false` turns it off.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.requests import Request
from starlette.responses import Response

from rennet.domain.indexes import GroupIndex
from rennet.service.errors import ServiceError
from rennet.service.registry import Registry
from rennet.service.runtime.metrics import DURATION_BUCKETS, Counts
from rennet.storage.maintenance import CatalogMaintenance, IndexCounts
from rennet.storage.metricsdir import MULTIPROCESS_VARIABLE

__all__ = ["PUBLISH_EVERY", "Exposition", "metrics"]

PUBLISH_EVERY = 1.0  # seconds: how old another worker's counts may be in a scrape
STORE_EVERY = 60.0  # seconds between two catalog queries for the index sizes (one worker's scrapes)

# A `_created` series per label set would double what a scrape carries, for a start time Prometheus does not need.
disable_created_metrics()  # type: ignore[no-untyped-call]


# IndexCounts' fields shown, with their help text: the catalog's, as `rennet stats` shows them.
_INDEX_SIZES = {
    "projects": "Projects an index knows",
    "files": "Files an index lists",
    "held_files": "Files an index holds on disk",
    "held_bytes": "Bytes of the files an index holds on disk",
}


class _BatchedHistogram(Histogram):
    """A Histogram that takes observations already sorted into its buckets: prometheus-client observes one value
    at a time, and has no public call for a batch. `_buckets` (a value per bucket, not cumulative) and `_sum` are
    what its observe() adds to (tests/web/test_metrics.py reads the result back)."""

    def add(self, bucket: int, count: int) -> None:
        self._buckets[bucket].inc(count)

    def add_sum(self, total: float) -> None:
        self._sum.inc(total)


class Exposition:
    """One worker's prometheus-client metrics, fed by its WorkerMetrics, and the scrape."""

    def __init__(self, registry: Registry) -> None:
        self.resources = registry.shared
        self.indexes = registry.settings.indexes
        self.maintenance = CatalogMaintenance(registry.store.engine)
        directory = os.environ.get(MULTIPROCESS_VARIABLE)
        self.multiprocess_dir = Path(directory) if directory else None
        self.registry = CollectorRegistry()
        self._store_until = 0.0
        r = self.registry
        self.requests = Counter(
            "rennet_requests",
            "Requests answered, by route kind, status and cache outcome",
            ["kind", "status", "cache"],
            registry=r,
        )
        self.durations = _BatchedHistogram(
            "rennet_request_duration_seconds", "Time to answer", ["kind"], registry=r, buckets=DURATION_BUCKETS
        )
        self.sent = Counter("rennet_response_bytes", "Bytes of response bodies sent", ["kind"], registry=r)
        self.upstream_responses = Counter(
            "rennet_upstream_responses", "Responses from upstreams", ["index", "kind", "status"], registry=r
        )
        self.upstream_bytes = Counter(
            "rennet_upstream_bytes", "Body bytes received from upstreams", ["index", "kind"], registry=r
        )
        self.upstream_failures = Counter(
            "rennet_upstream_failures", "Upstream requests that failed", ["index", "kind", "reason"], registry=r
        )
        self.policy = Counter(
            "rennet_policy_decisions",
            "Files hidden from pages as they were built, and requests or uploads refused, by index and rule",
            ["index", "rule", "action"],
            registry=r,
        )
        self.page_entries = Gauge(
            "rennet_page_cache_entries", "Pages in the page caches", registry=r, multiprocess_mode="livesum"
        )
        self.page_bytes = Gauge(
            "rennet_page_cache_bytes", "Rendered bytes in the page caches", registry=r, multiprocess_mode="livesum"
        )
        self.index_gauges = {
            field: Gauge(f"rennet_index_{field}", text, ["index"], registry=r, multiprocess_mode="mostrecent")
            for field, text in _INDEX_SIZES.items()
        }

    def publish(self, counts: Counts) -> None:
        """Add what the worker counted to the metrics (into the multiprocess files, when that mode is on)."""
        for (kind, status, cache), count in counts.requests.items():
            self.requests.labels(kind, str(status), cache).inc(count)
        for (kind, bucket), count in counts.durations.items():
            self.durations.labels(kind).add(bucket, count)
        for kind, seconds in counts.duration_sums.items():
            self.durations.labels(kind).add_sum(seconds)
        for kind, size in counts.sent.items():
            self.sent.labels(kind).inc(size)
        for (index, kind, status), count in counts.upstream_responses.items():
            self.upstream_responses.labels(index, kind, str(status)).inc(count)
        for (index, kind), size in counts.upstream_bytes.items():
            self.upstream_bytes.labels(index, kind).inc(size)
        for (index, kind, reason), count in counts.upstream_failures.items():
            self.upstream_failures.labels(index, kind, reason).inc(count)
        for (index, rule, action), count in counts.policy.items():
            self.policy.labels(index, rule, action).inc(count)
        pages = self.resources.pages
        self.page_entries.set(len(pages))
        self.page_bytes.set(pages.used)

    async def scrape(self) -> bytes:
        self.resources.metrics.flush()
        await self._refresh_index_sizes()
        return await asyncio.to_thread(self._exposition)

    def _exposition(self) -> bytes:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        _forget_dead_workers(self.multiprocess_dir)
        gathered = CollectorRegistry()
        MultiProcessCollector(gathered, str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(gathered)

    async def _refresh_index_sizes(self) -> None:
        """The catalog's counts per index, asked at most once a minute (a scan of the files table)."""
        now = time.monotonic()
        if now < self._store_until:
            return
        self._store_until = now + STORE_EVERY
        try:
            counts = await self.resources.db(self.maintenance.index_counts)
        except ServiceError:
            return  # the database is down (and the log says so): the last sizes stand
        nothing = IndexCounts(0, 0, 0, 0, 0, None)
        for name, config in self.indexes.items():
            if isinstance(config, GroupIndex):
                continue
            found = counts.get(name, nothing)
            for field, gauge in self.index_gauges.items():
                gauge.labels(name).set(getattr(found, field))


def _forget_dead_workers(directory: Path) -> None:
    """A worker that died (and was replaced) no longer has pages cached: its page-cache gauges must not count."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rpartition("_")[2])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, as another user


async def metrics(request: Request) -> Response:
    """The route exists only while metrics are on (create_app)."""
    exposition: Exposition = request.app.state.exposition
    return Response(await exposition.scrape(), media_type=CONTENT_TYPE_LATEST)
