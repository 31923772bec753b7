"""/metrics, in-process: requests by route kind, status and cache outcome, their durations and bytes, what the
upstream did, the page cache and the index sizes; never a project's name; and turning it off. (Two workers
adding up into one scrape: tests/e2e/test_metrics_workers.py.)"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.dists import make_wheel
from tests.support.metrics import sample, total, value, wait_for_samples, wait_for_total
from tests.support.server import LocalServer, proxy_config
from tests.support.store import wait_until_held
from tests.support.upstream import NOWHERE, FakeUpstream

PROJECT = "zebra-quux-secretive"  # a name to look for in the scrape


def test_requests_are_counted_by_route_kind_status_and_cache_outcome(
    upstream: FakeUpstream, rennet: LocalServer
) -> None:
    wheel = make_wheel(PROJECT, "1.0", padding=20_000)
    upstream.add(wheel)
    page = f"/simple/{PROJECT}/"
    file = f"/pypi/files/{PROJECT}/{wheel.filename}"
    sent = [
        httpx.get(rennet.url + path, headers={"accept-encoding": "identity"})
        for path in (page, page, file, file + ".metadata", f"/pypi/{PROJECT}/json", "/favicon.ico", "/simple/")
    ]
    assert [response.status_code for response in sent] == [200, 200, 200, 200, 200, 404, 200]
    wait_until_held(rennet, wheel.filename, wheel.sha256)
    requests = "rennet_requests_total"
    samples = wait_for_samples(
        rennet,
        {
            sample(requests, kind="page", status="200", cache="miss"): 1,
            sample(requests, kind="page", status="200", cache="hit"): 1,
            sample(requests, kind="file", status="200", cache="miss"): 1,
            sample(requests, kind="other", status="404", cache="-"): 1,
            sample("rennet_request_duration_seconds_count", kind="page"): 2,
            sample("rennet_response_bytes_total", kind="file"): len(wheel.data),
        },
    )
    for kind in ("metadata", "json", "list"):  # whatever their cache outcomes
        samples = wait_for_total(rennet, 1, requests, kind=kind, status="200")
    assert value(samples, "rennet_response_bytes_total", kind="page") == sum(len(r.content) for r in sent[:2])
    assert value(samples, "rennet_request_duration_seconds_bucket", kind="page", le="+Inf") == 2
    assert value(samples, "rennet_request_duration_seconds_sum", kind="page") > 0
    # The upstream: the page once (the second request was a hit), the wheel's bytes.
    assert value(samples, "rennet_upstream_responses_total", index="pypi", kind="page", status="200") >= 1
    assert value(samples, "rennet_upstream_bytes_total", index="pypi", kind="file") >= len(wheel.data)
    assert value(samples, "rennet_page_cache_entries") >= 1
    assert value(samples, "rennet_page_cache_bytes") > 0
    assert value(samples, "rennet_index_held_files", index="pypi") == 1
    assert value(samples, "rennet_index_held_bytes", index="pypi") == len(wheel.data)
    text = rennet.get("/metrics").text
    assert PROJECT not in text and wheel.filename not in text, "project names are no scraper's business"


def test_upstream_failures_are_counted_by_reason(rennet_factory: Callable[..., LocalServer]) -> None:
    rennet = rennet_factory(config=proxy_config("down", NOWHERE, connect_timeout="2s"))
    assert rennet.get(f"/down/simple/{PROJECT}/").status_code == 502
    samples = wait_for_samples(
        rennet,
        {
            sample("rennet_upstream_failures_total", index="down", kind="page", reason="connect"): 1,
            sample("rennet_requests_total", kind="page", status="502", cache="error"): 1,
        },
    )
    assert total(samples, "rennet_upstream_responses_total", index="down") == 0


def test_metrics_can_be_turned_off(rennet_factory: Callable[..., LocalServer]) -> None:
    rennet = rennet_factory(env={"RENNET_METRICS": "false"})
    assert rennet.get("/metrics").status_code == 404
    assert rennet.get("/simple/").status_code == 200
