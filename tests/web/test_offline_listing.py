"""Offline, a proxy's project list names the projects rennet holds files of: not the upstream's whole list (most
of it would answer 404), and not nothing when the list was never fetched."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.dists import make_wheel
from tests.support.pages import JSON_V1
from tests.support.server import LocalServer
from tests.support.store import wait_until_held
from tests.support.upstream import FakeUpstream


def _names(server: LocalServer, path: str) -> set[str]:
    response = server.get(path, headers={"accept": JSON_V1})
    assert response.status_code == 200, response.text
    return {project["name"] for project in response.json()["projects"]}


def test_offline_lists_what_is_held(rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream) -> None:
    held, seen, other = make_wheel("held-one", "1.0"), make_wheel("page-only", "1.0"), make_wheel("never", "1.0")
    upstream.add(held, seen, other)
    server = rennet_factory(upstream_url=upstream.url)
    assert _names(server, "/pypi/simple/") == {"held-one", "page-only", "never"}
    assert server.get(f"/pypi/files/held-one/{held.filename}").content == held.data
    wait_until_held(server, held.filename, held.sha256)
    assert server.get("/pypi/simple/page-only/").status_code == 200  # a page, but no file of it
    server.restart(offline=True)
    assert _names(server, "/pypi/simple/") == {"held-one"}
    assert _names(server, "/simple/") == {"held-one"}
    server.restart(offline=False)
    assert _names(server, "/pypi/simple/") == {"held-one", "page-only", "never"}  # the upstream's list again


def test_offline_without_a_fetched_list(rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream) -> None:
    held = make_wheel("held-one", "1.0")
    upstream.add(held)
    server = rennet_factory(upstream_url=upstream.url)
    assert server.get(f"/pypi/files/held-one/{held.filename}").status_code == 200
    wait_until_held(server, held.filename, held.sha256)
    server.restart(offline=True)
    assert _names(server, "/simple/") == {"held-one"}
