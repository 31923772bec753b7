"""A worker process that dies (kill -9, as the OOM killer would) is replaced; the server, and the other workers,
go on serving."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import httpx
import pytest

from tests.support.dists import make_wheel
from tests.support.server import RennetServer
from tests.support.store import wait_until
from tests.support.upstream import FakeUpstream


def _serving(server: RennetServer, path: str) -> bool:
    try:
        return httpx.get(server.url + path, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_worker_is_replaced(
    process_factory: Callable[..., RennetServer], upstream: FakeUpstream, workers: int
) -> None:
    upstream.add(make_wheel("sturdy", "1.0"))
    server = process_factory(upstream_url=upstream.url, workers=workers)
    assert _serving(server, "/simple/sturdy/")
    before = server.worker_pids()
    assert len(before) >= workers
    victim = before[0]
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        assert server.process is not None and server.process.poll() is None, server.log()[-2000:]
        alive = set(server.worker_pids())
        return victim not in alive and len(alive) >= len(before) and _serving(server, "/simple/sturdy/")

    wait_until(replaced, f"worker {victim} replaced and the server serving")
    assert server.process is not None and server.process.poll() is None, server.log()[-2000:]
    assert victim not in server.worker_pids()
    assert len(server.worker_pids()) >= len(before)
    for _ in range(20):  # every worker answers (the replacement too)
        assert _serving(server, "/simple/sturdy/")
