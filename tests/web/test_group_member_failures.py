"""A group with an unreachable proxy member answers from the members that work, says in the log which member
failed, and keeps the shadowing rule: a hosted member that has the project still wins."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.accounts import add_user
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE
from tests.support.pages import json_files
from tests.support.server import LocalServer, proxy_config
from tests.support.uploads import post_upload
from tests.support.upstream import NOWHERE, FakeUpstream


def _group(upstream: FakeUpstream) -> str:
    """`local`, then a proxy whose upstream is down, then a working one."""
    return (
        proxy_config("down", NOWHERE, retry_after="30s")
        + proxy_config("works", upstream.url)
        + '[index.local]\nupload = ["alice"]\n'
        + '[index.default]\nmembers = ["local", "down", "works"]\n'
    )


def test_the_members_that_work_answer(rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream) -> None:
    wheel = make_wheel("elsewhere", "1.0")
    upstream.add(wheel)
    server = rennet_factory(config=_group(upstream))
    assert set(json_files(server, "/simple/elsewhere/")) == {wheel.filename}
    assert server.get(f"/default/files/elsewhere/{wheel.filename}").content == wheel.data
    server.wait_for_log("default: leaving out down for elsewhere: down: cannot connect to the upstream")


def test_a_project_nobody_has_is_a_failure_while_a_member_cannot_be_asked(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    server = rennet_factory(config=_group(upstream))
    response = server.get("/simple/nowhere/")
    assert response.status_code == 502, response.text  # not 404: the member that is down might have it
    assert "cannot connect to the upstream" in response.text


def test_the_answer_is_asked_again_once_the_failed_member_may_answer(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    """The working member's page stands in for the group only until the failed member would try again."""
    upstream.add(make_wheel("elsewhere", "1.0"))
    server = rennet_factory(config=_group(upstream))
    assert server.get("/simple/elsewhere/").status_code == 200
    server.registry.shared.clock.advance(31)
    before = server.log().count("leaving out down for elsewhere")
    assert server.get("/simple/elsewhere/").status_code == 200
    assert server.wait_for_log("leaving out down").count("leaving out down for elsewhere") == before + 1


def test_a_hosted_project_still_hides_the_proxies(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    public = make_wheel("acme-secret", "9.0")
    upstream.add(public)
    server = rennet_factory(config=_group(upstream))
    add_user(server, *ALICE)
    private = make_wheel("acme-secret", "1.0")
    assert post_upload(server.url + "/local/", private, auth=ALICE).status_code == 200
    assert set(json_files(server, "/simple/acme-secret/")) == {private.filename}
    assert upstream.count("/simple/acme-secret/") == 0
