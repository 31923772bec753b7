"""The upstream fails: stale pages while it does, clear 502/504 sentences when nothing is cached, offline mode.

Page TTLs and retry windows pass on the server's clock (moved forward by the tests); network timeouts are real.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import fetch_once
from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.pages import JSON_V1
from tests.support.server import LocalServer, proxy_config
from tests.support.store import wait_until, wait_until_held
from tests.support.upstream import Blackhole, FakeUpstream

# Long enough never to run out by itself during a test: time passes when the test moves the server's clock.
TTL = 60.0
FAULT_INDEXES = ("down", "err500", "garbage", "hang", "html-garbage", "recovers", "dl", "secret", "listing")


class Fixture:
    """One proxy index per test, each with its own fake upstream: failures of one never touch another."""

    def __init__(self, root: Path, database_url: str | None) -> None:
        self.upstreams = {name: FakeUpstream().start() for name in FAULT_INDEXES}
        config = ""
        for name, upstream in self.upstreams.items():
            url = upstream.url
            if name == "secret":
                url = url.replace("http://", "http://mirror-user:hunter2-SECRET@")
            config += proxy_config(
                name,
                url,
                page_ttl=f"{TTL}s",
                listing_ttl=f"{TTL}s",
                retry_after=f"{TTL}s",
                read_timeout="0.5s",
                connect_timeout="0.5s",
            )
        self.blackhole = Blackhole()
        # Reading may take a minute: only the connect timeout can end a request to the blackhole in time.
        config += proxy_config("unreachable", self.blackhole.url, connect_timeout="0.5s", read_timeout="60s")
        self.rennet = LocalServer(root / "data", config=config, database_url=database_url).start()

    def expire(self) -> None:
        """Past every page TTL, listing TTL and retry window of the server."""
        self.rennet.registry.shared.clock.advance(TTL + 1)

    def close(self) -> None:
        self.rennet.stop()
        self.blackhole.close()
        for upstream in self.upstreams.values():
            upstream.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, database: Database) -> Iterator[Fixture]:
    with database.server_catalog() as url:
        fixture = Fixture(tmp_path_factory.mktemp("faults"), url)
        yield fixture
        fixture.close()


def page(rennet: LocalServer, index: str, project: str) -> httpx.Response:
    return rennet.get(f"/{index}/simple/{project}/", headers={"accept": JSON_V1})


def files_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [f["filename"] for f in json.loads(response.content)["files"]]


def cached_then_failing(env: Fixture, index: str, fault: str) -> FakeUpstream:
    """A project cached from the index's upstream, then the fault, then the TTL run out."""
    upstream = env.upstreams[index]
    upstream.add(make_wheel("kept", "1.0"))
    assert files_of(page(env.rennet, index, "kept")) == ["kept-1.0-py3-none-any.whl"]
    upstream.fault("/simple/", fault)
    env.expire()
    return upstream


@pytest.mark.parametrize(
    ("index", "fault", "status", "words"),
    [
        ("err500", "500", 502, "500"),
        ("garbage", "garbage", 502, "unreadable"),
        ("hang", "hang", 504, "did not answer in time"),
    ],
)
def test_stale_page_while_the_upstream_fails(env: Fixture, index: str, fault: str, status: int, words: str) -> None:
    upstream = cached_then_failing(env, index, fault)
    try:
        stale = page(env.rennet, index, "kept")
        assert files_of(stale) == ["kept-1.0-py3-none-any.whl"]
        assert env.rennet.wait_for_access(f"/{index}/simple/kept/", "stale").status == 200
        assert f"serving stale page {index}/kept" in env.rennet.log()
        env.expire()  # past retry_after: the upstream is asked again
        nothing = page(env.rennet, index, "never-cached")
        assert nothing.status_code == status
        assert words in nothing.text
        assert "upstream" in nothing.text
        assert nothing.text.endswith("\n") and len(nothing.text) < 400
    finally:
        upstream.fault("/simple/", None)


def test_upstream_down(env: Fixture) -> None:
    upstream = env.upstreams["down"]
    upstream.add(make_wheel("kept", "1.0"))
    assert files_of(page(env.rennet, "down", "kept")) == ["kept-1.0-py3-none-any.whl"]
    upstream.stop()
    env.expire()
    assert files_of(page(env.rennet, "down", "kept")) == ["kept-1.0-py3-none-any.whl"]
    env.rennet.wait_for_log("serving stale page down/kept")
    env.expire()
    missing = page(env.rennet, "down", "other")
    assert missing.status_code == 502
    assert "cannot connect to the upstream" in missing.text
    listing = env.rennet.get("/down/simple/")
    assert listing.status_code == 502
    assert "upstream" in listing.text


def test_connect_timeout(env: Fixture) -> None:
    response = httpx.get(f"{env.rennet.url}/unreachable/simple/anything/", timeout=20)
    assert response.status_code == 504
    assert "upstream" in response.text
    assert env.rennet.get("/health").status_code == 200


def test_unreadable_html_page(env: Fixture) -> None:
    upstream = env.upstreams["html-garbage"]
    upstream.raw_pages["/simple/weird/"] = (b"\x89PNG\r\n\x1a\n\x00\x00binary", "image/png")
    response = page(env.rennet, "html-garbage", "weird")
    assert response.status_code == 502
    assert "content type" in response.text


def test_recovery_after_retry_after(env: Fixture) -> None:
    upstream = cached_then_failing(env, "recovers", "500")
    assert files_of(page(env.rennet, "recovers", "kept")) == ["kept-1.0-py3-none-any.whl"]
    assert upstream.answered("/simple/kept/", 500) == 1
    upstream.fault("/simple/", None)
    upstream.add(make_wheel("kept", "2.0"))
    # Within retry_after the upstream is left alone: the stale page again, without asking.
    assert files_of(page(env.rennet, "recovers", "kept")) == ["kept-1.0-py3-none-any.whl"]
    assert upstream.count("/simple/kept/") == 2
    env.expire()
    assert files_of(page(env.rennet, "recovers", "kept")) == [
        "kept-1.0-py3-none-any.whl",
        "kept-2.0-py3-none-any.whl",
    ]


@pytest.mark.parametrize(("fault", "status"), [("hang", 502), ("500", 502), ("404", 502)])
def test_file_failures_before_any_byte(env: Fixture, fault: str, status: int) -> None:
    upstream = env.upstreams["dl"]
    wheel = make_wheel(f"file-{fault}", "1.0")
    upstream.add(wheel)
    assert page(env.rennet, "dl", wheel.project).status_code == 200
    upstream.fault(f"/files/{wheel.filename}", fault)
    try:
        response = env.rennet.get(f"/dl/files/{wheel.project}/{wheel.filename}")
    finally:
        upstream.fault(f"/files/{wheel.filename}", None)
    assert response.status_code in (status, 504)
    assert wheel.filename in response.text
    assert "upstream" in response.text
    assert wheel.sha256 not in env.rennet.blobs()
    assert env.rennet.get(f"/dl/files/{wheel.project}/{wheel.filename}").content == wheel.data


def test_upstream_stalling_mid_file(env: Fixture) -> None:
    upstream = env.upstreams["dl"]
    wheel = make_wheel("stalls", "1.0", padding=600_000)
    upstream.add(wheel)
    upstream.fault(f"/files/{wheel.filename}", "stall")  # half the file, then silence past read_timeout
    try:
        outcome = fetch_once(f"{env.rennet.url}/dl/files/{wheel.project}/{wheel.filename}")
    finally:
        upstream.fault(f"/files/{wheel.filename}", None)
    assert outcome.error is not None, "the client must see the transfer break off"
    assert outcome.body != wheel.data
    assert wheel.sha256 not in env.rennet.blobs()
    wait_until(lambda: not env.rennet.partial_files(), "no partial file is left")
    assert env.rennet.get(f"/dl/files/{wheel.project}/{wheel.filename}").content == wheel.data


def test_credentials_stay_out_of_logs_and_messages(env: Fixture) -> None:
    upstream = env.upstreams["secret"]
    upstream.add(make_wheel("private-dep", "1.0"))
    assert page(env.rennet, "secret", "private-dep").status_code == 200
    assert upstream.seen_headers("/simple/private-dep/")[0]["authorization"].startswith("Basic ")
    upstream.fault("/simple/", "500")
    try:
        failing = page(env.rennet, "secret", "absent")
        assert failing.status_code == 502
        assert "hunter2" not in failing.text and "mirror-user" not in failing.text
    finally:
        upstream.fault("/simple/", None)
    upstream.stop()
    env.expire()
    page(env.rennet, "secret", "private-dep")
    refused = page(env.rennet, "secret", "another")
    assert "hunter2" not in refused.text
    env.rennet.wait_for_log("/secret/simple/another/")
    assert "hunter2" not in env.rennet.log()
    assert "mirror-user" not in env.rennet.log()


def test_stale_project_list(env: Fixture) -> None:
    upstream = env.upstreams["listing"]
    upstream.add(make_wheel("listed", "1.0"))
    first = env.rennet.get("/listing/simple/", headers={"accept": JSON_V1})
    assert {p["name"] for p in json.loads(first.content)["projects"]} == {"listed"}
    upstream.fault("/simple/", "500")
    try:
        env.expire()
        again = env.rennet.get("/listing/simple/", headers={"accept": JSON_V1})
        assert again.status_code == 200
        assert again.content == first.content
        assert env.rennet.wait_for_access("/listing/simple/", "stale").status == 200
        assert "serving stale project list of listing" in env.rennet.log()
        assert upstream.answered("/simple/", 500) >= 1
    finally:
        upstream.fault("/simple/", None)
    upstream.add(make_wheel("newcomer", "1.0"))
    env.expire()
    names = {
        p["name"]
        for p in json.loads(env.rennet.get("/listing/simple/", headers={"accept": JSON_V1}).content)["projects"]
    }
    assert names == {"listed", "newcomer"}


def test_offline_never_contacts_the_upstream(
    upstream: FakeUpstream, rennet_factory: Callable[..., LocalServer]
) -> None:
    wheel = make_wheel("cached-only", "1.0")
    other = make_wheel("cached-only", "2.0")
    bare = make_wheel("cached-only", "3.0")  # the wheel is fetched, never its .metadata
    upstream.add(wheel, other, bare, make_wheel("uncached", "1.0"))
    server = rennet_factory(upstream_url=upstream.url)
    assert server.get("/simple/cached-only/").status_code == 200
    assert server.get(f"/pypi/files/cached-only/{wheel.filename}").content == wheel.data
    assert server.get(f"/pypi/files/cached-only/{bare.filename}").content == bare.data
    assert server.get(f"/pypi/files/cached-only/{wheel.filename}.metadata").content == wheel.metadata
    assert server.get("/pypi/simple/").status_code == 200
    before = sum(upstream.requests.values())
    # Clients may finish once the bytes are verified; they are recorded right after: before the restart.
    for held in (wheel, bare):
        wait_until_held(server, held.filename, held.sha256)

    server.restart(offline=True)
    # Offline, only held files are listed: an installer would pick a listed one and then fail to get it.
    assert files_of(server.get("/simple/cached-only/", headers={"accept": JSON_V1})) == [
        wheel.filename,
        bare.filename,
    ]
    assert server.get(f"/pypi/files/cached-only/{bare.filename}.metadata").content == bare.metadata
    assert server.get(f"/pypi/files/cached-only/{wheel.filename}").content == wheel.data
    assert server.get(f"/pypi/files/cached-only/{wheel.filename}.metadata").content == wheel.metadata
    assert server.get("/pypi/simple/").status_code == 200
    not_cached = server.get(f"/pypi/files/cached-only/{other.filename}")
    assert not_cached.status_code == 404
    assert "offline" in not_cached.text
    assert server.get("/simple/uncached/").status_code == 404
    unknown = server.get("/pypi/simple/uncached/")
    assert unknown.status_code == 404
    assert "offline" in unknown.text
    assert server.get(f"/pypi/files/cached-only/{other.filename}.metadata").status_code == 404
    assert sum(upstream.requests.values()) == before, "offline rennet must never contact the upstream"
