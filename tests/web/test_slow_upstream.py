"""A slow upstream does not hold a client past its patience: after `stale_after`, the page held is served, and
the refresh finishes in the background."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.dists import make_wheel
from tests.support.pages import JSON_V1, json_files
from tests.support.server import LocalServer, proxy_config
from tests.support.store import wait_until
from tests.support.upstream import FakeUpstream

CLIENT_TIMEOUT = 10.0  # like pip's 15 s: much shorter than the upstream's read timeout here


def test_the_held_page_is_served_while_a_slow_upstream_is_asked(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    old = make_wheel("patient", "1.0")
    upstream.add(old)
    config = proxy_config(upstream=upstream.url, page_ttl="1m", read_timeout="60s", stale_after="0.5s")
    server = rennet_factory(config=config)
    assert set(json_files(server, "/pypi/simple/patient/")) == {old.filename}

    new = make_wheel("patient", "2.0")
    upstream.add(new)
    upstream.fault("/simple/patient/", "slow:3")
    server.registry.shared.clock.advance(61)
    response = server.get("/pypi/simple/patient/", headers={"accept": JSON_V1}, timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200
    assert {entry["filename"] for entry in response.json()["files"]} == {old.filename}
    assert server.wait_for_access("/pypi/simple/patient/", "stale").status == 200
    server.wait_for_log("the upstream is slow; refreshing it meanwhile")

    # The refresh that was waiting for the upstream finishes in the background: its page is served next.
    wait_until(
        lambda: set(json_files(server, "/pypi/simple/patient/")) == {old.filename, new.filename},
        "the background refresh is served",
    )
    assert upstream.count("/simple/patient/") == 2, upstream.responses  # no second refresh was started
