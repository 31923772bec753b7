"""`rennet stats` of a real `rennet serve` with several workers: each worker counts into its own row of one file,
and the real command (a process of its own) sums them."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.dists import make_wheel
from tests.support.server import RennetServer
from tests.support.store import stats
from tests.support.upstream import FakeUpstream


def test_requests_of_every_worker_are_counted(
    process_factory: Callable[..., RennetServer], upstream: FakeUpstream
) -> None:
    server = process_factory(upstream_url=upstream.url, workers=2)
    assert len(server.worker_pids()) == 2
    upstream.add(make_wheel("busy", "1.0"))
    for _ in range(40):
        assert server.get("/pypi/simple/busy/").status_code == 200
    pages = stats(server)["requests"]["pages"]
    assert pages["total"] == 40
    assert 1 <= pages["miss"] <= 2  # one per worker at most
    assert pages["hit"] == 40 - pages["miss"]
