"""What a worker counts for /metrics, in plain Python, and how it hands the counts over."""

from __future__ import annotations

import asyncio

import pytest

from rennet.service.runtime.metrics import DURATION_BUCKETS, Counts, WorkerMetrics


def test_requests_are_counted_by_kind_status_and_cache_outcome() -> None:
    metrics = WorkerMetrics()
    metrics.request("page", 200, "hit", 0.0002, 1000)
    metrics.request("page", 200, "hit", 0.0004, 1000)
    metrics.request("page", 502, "error", 0.02, 90)
    metrics.request("file", 304, "hit", 0.0001, 0)
    counts = metrics.take()
    assert counts.requests == {("page", 200, "hit"): 2, ("page", 502, "error"): 1, ("file", 304, "hit"): 1}
    assert counts.sent == {"page": 2090}
    assert counts.duration_sums["page"] == pytest.approx(0.0206)


def test_a_duration_falls_in_the_first_bucket_it_does_not_exceed() -> None:
    metrics = WorkerMetrics()
    for seconds in (0.0, 0.001, 0.0011, 60.0, 61.0):
        metrics.request("page", 200, "hit", seconds, 0)
    durations = metrics.take().durations
    bucket = DURATION_BUCKETS.index
    assert durations == {
        ("page", 0): 1,
        ("page", bucket(0.001)): 1,
        ("page", bucket(0.0025)): 1,
        ("page", bucket(60.0)): 1,
        ("page", len(DURATION_BUCKETS)): 1,  # +Inf
    }


def test_upstream_traffic_is_counted_per_index() -> None:
    metrics = WorkerMetrics()
    pypi, corp = metrics.upstream("pypi"), metrics.upstream("corp")
    pypi.answered("page", 200)
    pypi.answered("page", 200)
    corp.answered("file", 404)
    pypi.received("file", 100)
    pypi.received("file", 50)
    corp.failed("page", "timeout")
    counts = metrics.take()
    assert counts.upstream_responses == {("pypi", "page", 200): 2, ("corp", "file", 404): 1}
    assert counts.upstream_bytes == {("pypi", "file"): 150}
    assert counts.upstream_failures == {("corp", "page", "timeout"): 1}


def test_taking_the_counts_starts_again_from_zero() -> None:
    metrics = WorkerMetrics()
    metrics.request("page", 200, "hit", 0.001, 10)
    assert metrics.take().requests
    assert metrics.take() == Counts()


def test_counts_are_handed_over_once_after_the_delay_and_at_once_when_flushed() -> None:
    published: list[Counts] = []

    async def work() -> None:
        metrics = WorkerMetrics()
        metrics.publish_every(0.01, published.append)
        metrics.request("page", 200, "hit", 0.001, 10)
        metrics.request("page", 200, "hit", 0.001, 10)
        assert published == []  # not per request
        while not published:
            await asyncio.sleep(0.005)
        metrics.upstream("pypi").answered("page", 200)
        metrics.flush()

    asyncio.run(work())
    assert [counts.requests for counts in published[:1]] == [{("page", 200, "hit"): 2}]
    assert published[1].upstream_responses == {("pypi", "page", 200): 1}
