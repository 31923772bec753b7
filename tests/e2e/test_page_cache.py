"""Page caching across processes: pages and negative entries survive a restart of `rennet serve`, and several
workers refreshing one expired page at once all answer (the rest: tests/web/test_page_cache.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from tests.support.clients import fetch_concurrently
from tests.support.dists import make_wheel
from tests.support.pages import JSON_V1
from tests.support.server import RennetServer, proxy_config
from tests.support.store import wait_until_held
from tests.support.upstream import FakeUpstream

# A real TTL: each worker process has its own clock, which the test cannot move.
TTL = 0.5


@pytest.mark.parametrize("page_ttl", ["10m", "0.2s"])  # still fresh, or expired: then served stale
def test_pages_survive_a_restart(
    process_factory: Callable[..., RennetServer], upstream: FakeUpstream, page_ttl: str
) -> None:
    held = make_wheel("durable", "1.1")
    upstream.add(make_wheel("durable", "1.0"), held)
    config = proxy_config(page_ttl=page_ttl, negative_ttl="10m")
    rennet = process_factory(upstream_url=upstream.url, config=config)
    before = rennet.get("/simple/durable/", headers={"accept": JSON_V1})
    assert before.status_code == 200, before.text
    wheel = rennet.get(f"/pypi/files/durable/{held.filename}")
    assert wheel.status_code == 200
    assert wheel.content == held.data
    missing = rennet.get("/simple/never-was/")
    assert missing.status_code == 404
    # The client may finish once the bytes are verified; they are recorded right after: before the restart.
    wait_until_held(rennet, held.filename, held.sha256)
    upstream.stop()
    rennet.restart()
    assert rennet.get("/pypi/simple/durable/").status_code == 200
    assert rennet.wait_for_access("/pypi/simple/durable/").cache == ("hit" if page_ttl == "10m" else "stale")
    after = rennet.get("/simple/durable/", headers={"accept": JSON_V1})
    assert after.status_code == 200, after.text
    assert after.content == before.content
    again = rennet.get(f"/pypi/files/durable/{held.filename}")
    assert again.content == held.data
    # The negative entry survives too: a 404, not a 502 about the upstream being down.
    assert rennet.get("/simple/never-was/").status_code == 404


def test_workers_refreshing_one_page_at_once_all_answer(
    process_factory: Callable[..., RennetServer], upstream: FakeUpstream
) -> None:
    """Each worker refreshes an expired page on its own; their writes of the same new files must not collide."""
    upstream.add(make_wheel("contested", "1.0"))
    rennet = process_factory(upstream_url=upstream.url, config=proxy_config(page_ttl=f"{TTL}s"), workers=2)
    url = f"{rennet.url}/pypi/simple/contested/"
    assert {o.status for o in fetch_concurrently(url, 10)} == {200}
    # Held answers make both workers' refreshes arrive together, several times over.
    upstream.fault("/simple/contested/", "slow:0.3")
    for minor in range(1, 9):
        upstream.add(make_wheel("contested", f"1.{minor}"))
        time.sleep(TTL + 0.1)
        outcomes = fetch_concurrently(url, 40, {"accept": JSON_V1})
        assert {o.status for o in outcomes} == {200}, rennet.log()[-3000:]
        listed = {f["filename"] for o in outcomes for f in json.loads(o.body)["files"]}
        assert f"contested-1.{minor}-py3-none-any.whl" in listed
    assert "Traceback" not in rennet.log()
