"""Running rennet, in-process: health and readiness, and the access log. (Workers, signals and the command line of
`rennet serve`: tests/e2e/test_operations.py.)"""

from __future__ import annotations

import time

import httpx

from tests.support.dists import make_wheel
from tests.support.server import LocalServer
from tests.support.store import wait_until_held
from tests.support.upstream import FakeUpstream

SLOW_PAGE = 0.3  # seconds the upstream takes to answer for a page


def test_health_and_readiness(upstream: FakeUpstream, rennet: LocalServer) -> None:
    health = rennet.get("/health")
    assert health.status_code == 200
    assert rennet.get("/ready").status_code == 200
    temp = rennet.data_dir / "tmp"
    moved = rennet.data_dir / "tmp-moved"
    temp.rename(moved)
    temp.write_text("storage is broken: tmp is a file now")
    try:
        broken = rennet.get("/ready")
        assert broken.status_code == 503
        assert "storage is not reachable" in broken.text
        # The server's paths are the log's business, not the caller's.
        assert str(rennet.data_dir) not in broken.text and "/tmp" not in broken.text
        assert "Not a directory" in rennet.wait_for_log("not ready: storage is not reachable")
        assert rennet.get("/health").status_code == 200, "alive, though not ready"
    finally:
        temp.unlink()
        moved.rename(temp)
    assert rennet.get("/ready").status_code == 200


def test_one_access_line_per_request(upstream: FakeUpstream, rennet: LocalServer) -> None:
    wheel = make_wheel("logged", "1.0")
    upstream.add(wheel)
    upstream.fault("/simple/logged/", f"slow:{SLOW_PAGE}")  # the first request waits for it; the rest are hits
    rennet.wait_for_access("/health")  # the start-up probe's line is written after its response
    start = len(rennet.access_lines())
    file_path = f"/pypi/files/logged/{wheel.filename}"
    requests: list[tuple[str, str, dict[str, str]]] = [
        ("GET", "/simple/logged/", {}),
        ("GET", "/simple/logged/", {}),
        ("GET", file_path, {}),
        ("GET", file_path, {}),
        ("HEAD", file_path, {}),
        ("GET", file_path, {"range": "bytes=0-9"}),
        ("GET", "/simple/Logged/", {}),
        ("GET", "/simple/-bad-/", {}),
        ("GET", "/pypi/files/logged/missing-1.0.tar.gz", {}),
        ("GET", "/simple/logged/?token=SECRET-QUERY", {}),
    ]
    began = time.perf_counter()
    for number, (method, path, headers) in enumerate(requests):
        httpx.request(method, rennet.url + path, headers=headers | {"accept-encoding": "identity"})
        if number == 2:
            # The client may finish once the bytes are verified; the blob and its row follow just after. Until
            # then, another request joins the download (a miss).
            wait_until_held(rennet, wheel.filename, wheel.sha256)
    lines = rennet.wait_for_access_lines(start + len(requests))[start:]
    # The server runs in this process: its durations and ours are on one clock, and each of its requests began
    # and was logged within what we measured around them all.
    measured = (time.perf_counter() - began) * 1000
    assert [(line.method, line.path) for line in lines] == [(m, p.split("?")[0]) for m, p, _ in requests]
    assert [line.status for line in lines] == [200, 200, 200, 200, 200, 206, 301, 400, 404, 200]
    assert [line.cache for line in lines[:4]] == ["miss", "hit", "miss", "hit"]
    assert lines[3].bytes == len(wheel.data)
    assert lines[4].bytes == 0
    assert lines[5].bytes == 10
    assert lines[0].milliseconds >= SLOW_PAGE * 1000, "the first page waited for the upstream"
    assert all(line.milliseconds <= measured for line in lines), (measured, [line.milliseconds for line in lines])
    assert "SECRET-QUERY" not in rennet.log(), "query strings may carry secrets: never logged"
