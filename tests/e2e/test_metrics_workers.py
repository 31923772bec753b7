"""A real `rennet serve` of two workers: one scrape of /metrics adds up both workers' counts (prometheus-client's
multiprocess mode, in a directory of the server's own), and a JSON log has nothing but JSON objects."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.metrics import scrape, wait_for_total
from tests.support.server import RennetServer
from tests.support.store import wait_until
from tests.support.upstream import FakeUpstream


@pytest.fixture(scope="module")
def two_workers(
    module_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory, database: Database
) -> Iterator[RennetServer]:
    with database.server_catalog() as url:
        server = RennetServer(
            tmp_path_factory.mktemp("metrics") / "data",
            upstream_url=module_upstream.url,
            workers=2,
            database_url=url,
            env={"RENNET_LOG_FORMAT": "json"},
        )
        yield server.start()
        server.stop()


def _metrics_dir(server: RennetServer) -> Path:
    [directory] = (server.data_dir / "run" / "metrics").glob("server-*")
    return directory


def _counting_workers(server: RennetServer, files: str = "counter") -> set[int]:
    """The processes that published into the server's metrics directory (each into files of its pid)."""
    return {int(path.stem.rpartition("_")[2]) for path in _metrics_dir(server).glob(f"{files}_*.db")}


def test_one_scrape_adds_up_every_worker(two_workers: RennetServer) -> None:
    server = two_workers
    workers = set(server.worker_pids())
    assert len(workers) == 2
    sent = 0
    # Each request on a connection of its own: the kernel spreads them over the workers (SO_REUSEPORT), which
    # publish what they counted within a second.
    while _counting_workers(server) != workers:
        assert sent < 5000, f"not every worker answered: {_counting_workers(server)} of {workers}"
        for _ in range(20):
            assert httpx.get(f"{server.url}/no-such-page-{sent}").status_code == 404
            sent += 1
    for _ in range(3):  # whichever worker answers the scrape, it shows every worker's requests
        wait_for_total(server, sent, "rennet_requests_total", kind="other", status="404")


def test_a_json_log_has_nothing_but_json_objects(two_workers: RennetServer) -> None:
    server = two_workers
    response = server.get("/simple/", headers={"x-request-id": "e2e-json"})
    assert response.headers["x-request-id"] == "e2e-json"
    server.wait_for_log('"request_id": "e2e-json"')
    entries = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    loggers = {entry["logger"] for entry in entries}
    assert {"rennet.serve", "rennet.access", "_granian"} <= loggers, loggers
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    access = [entry for entry in entries if entry.get("request_id") == "e2e-json"]
    assert [entry["path"] for entry in access] == ["/simple/"]


def test_a_new_server_clears_what_a_stopped_one_counted(tmp_path: Path, module_upstream: FakeUpstream) -> None:
    server = RennetServer(tmp_path / "data", upstream_url=module_upstream.url)
    server.start()
    try:
        assert server.get("/no-such-page").status_code == 404
        wait_for_total(server, 1, "rennet_requests_total", kind="other")
        server.restart()
        assert len(list((server.data_dir / "run" / "metrics").glob("server-*"))) == 1
        assert server.get("/no-such-page").status_code == 404
        wait_for_total(server, 1, "rennet_requests_total", kind="other")
    finally:
        server.stop()


def test_the_pages_of_a_dead_worker_are_not_counted(
    process_factory: Callable[..., RennetServer], upstream: FakeUpstream
) -> None:
    """A worker killed (and replaced) caches nothing any more: the next scrape forgets its page-cache gauges. What
    it had counted of requests stays counted."""
    upstream.add(make_wheel("cached-here", "1.0"))
    server = process_factory(upstream_url=upstream.url, workers=2)
    workers = set(server.worker_pids())
    for sent in range(5000):  # until each worker has published: counted requests, set its page gauges
        if _counting_workers(server) == workers:
            break
        assert httpx.get(f"{server.url}/simple/cached-here/").status_code == 200, sent
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 2, "a new worker")
    scrape(server)
    assert victim not in _counting_workers(server, "gauge_livesum")
    assert victim in _counting_workers(server)
