"""The JSON API of a proxy is kept like its pages: one upstream request for many clients, none while fresh, a
conditional one after the TTL, and the held copy while the upstream fails."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.dists import make_wheel
from tests.support.server import LocalServer, proxy_config
from tests.support.upstream import FakeUpstream

PATH = "/pypi/pypi/famous/json"  # project "famous" of the index "pypi"


def _server(factory: Callable[..., LocalServer], upstream: FakeUpstream) -> LocalServer:
    upstream.add(make_wheel("famous", "1.0"), make_wheel("famous", "2.0"))
    return factory(config=proxy_config(upstream=upstream.url, page_ttl="10m", retry_after="1m"))


def test_many_clients_one_upstream_request(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    server = _server(rennet_factory, upstream)
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: client.get(server.url + PATH), range(40)))
    assert {answer.status_code for answer in answers} == {200}
    assert {answer.json()["info"]["version"] for answer in answers} == {"2.0"}
    assert upstream.count("/pypi/famous/json") == 1


def test_fresh_then_revalidated(rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream) -> None:
    server = _server(rennet_factory, upstream)
    first = server.get(PATH)
    assert first.status_code == 200
    assert server.get(PATH).json() == first.json()
    assert upstream.count("/pypi/famous/json") == 1
    server.registry.shared.clock.advance(601)
    assert server.get(PATH).json() == first.json()
    assert upstream.count("/pypi/famous/json") == 2
    assert upstream.answered("/pypi/famous/json", 304) == 1


def test_the_held_copy_while_the_upstream_fails(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    server = _server(rennet_factory, upstream)
    first = server.get(PATH).json()
    upstream.fault("/pypi/", "500")
    server.registry.shared.clock.advance(601)
    assert server.get(PATH).json() == first
    assert server.get(PATH).json() == first  # within retry_after: the upstream is left alone
    assert upstream.answered("/pypi/famous/json", 500) == 1
    server.wait_for_log("serving the held JSON document")


def test_an_absent_project_is_remembered_briefly(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    server = _server(rennet_factory, upstream)
    assert server.get("/pypi/pypi/nobody/json").status_code == 404
    assert server.get("/pypi/pypi/nobody/json").status_code == 404
    assert upstream.count("/pypi/nobody/json") == 1
