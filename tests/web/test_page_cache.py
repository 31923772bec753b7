"""Page caching: per-index TTLs, conditional refreshes, negative entries, coalescing (persistence across a
restart and several workers refreshing at once: tests/e2e/test_page_cache.py).

TTLs pass on the server's clock, which the tests move forward; only the upstream's slowness is real.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.clients import fetch_concurrently
from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.pages import JSON_V1
from tests.support.server import LocalServer, proxy_config
from tests.support.store import wait_until_held
from tests.support.upstream import FakeUpstream

# Long enough never to run out by themselves during a test: time passes when a test moves the server's clock.
TTL = 60.0
NEGATIVE_TTL = 120.0


class Fixture:
    """`pypi` keeps pages for the default TTL; `fast` refreshes after TTL seconds, from its own upstream."""

    def __init__(self, root: Path, database_url: str | None) -> None:
        self.slow_up = FakeUpstream().start()
        self.fast_up = FakeUpstream().start()
        config = proxy_config("fast", self.fast_up.url, page_ttl=f"{TTL}s", negative_ttl=f"{TTL}s")
        config += proxy_config("negative", self.fast_up.url, negative_ttl=f"{NEGATIVE_TTL}s")
        self.rennet = LocalServer(
            root / "data", upstream_url=self.slow_up.url, config=config, database_url=database_url
        ).start()

    def advance(self, seconds: float) -> None:
        """Let time pass for the server's TTLs."""
        self.rennet.registry.shared.clock.advance(seconds)

    def expire(self) -> None:
        """Past the TTL of the `fast` index's pages."""
        self.advance(TTL + 1)

    def close(self) -> None:
        self.rennet.stop()
        self.slow_up.stop()
        self.fast_up.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, database: Database) -> Iterator[Fixture]:
    with database.server_catalog() as url:
        fixture = Fixture(tmp_path_factory.mktemp("pagecache"), url)
        yield fixture
        fixture.close()


def filenames(rennet: LocalServer, path: str) -> list[str]:
    response = rennet.get(path, headers={"accept": JSON_V1})
    assert response.status_code == 200, response.text
    return sorted(f["filename"] for f in json.loads(response.content)["files"])


def test_fresh_pages_do_not_touch_the_upstream(env: Fixture) -> None:
    env.slow_up.add(make_wheel("steady", "1.0"))
    for _ in range(5):
        assert filenames(env.rennet, "/pypi/simple/steady/") == ["steady-1.0-py3-none-any.whl"]
    # A client's max-age=0 (pip sends it) is ours to answer, not the upstream's.
    env.rennet.get("/pypi/simple/steady/", headers={"cache-control": "max-age=0"})
    env.rennet.get("/simple/steady/", headers={"cache-control": "no-cache"})
    assert env.slow_up.count("/simple/steady/") == 1
    match = re.search(r"max-age=(\d+)", env.rennet.get("/pypi/simple/steady/").headers["cache-control"])
    assert match and int(match[1]) > 0


def test_expired_page_is_revalidated_with_etag(env: Fixture) -> None:
    env.fast_up.add(make_wheel("revalidated", "1.0"))
    assert filenames(env.rennet, "/fast/simple/revalidated/") == ["revalidated-1.0-py3-none-any.whl"]
    first_headers = env.fast_up.seen_headers("/simple/revalidated/")
    assert "if-none-match" not in first_headers[0]
    env.advance(TTL / 2)
    assert filenames(env.rennet, "/fast/simple/revalidated/") == ["revalidated-1.0-py3-none-any.whl"]
    assert env.fast_up.count("/simple/revalidated/") == 1, "fresh for its whole TTL"
    env.advance(TTL / 2 + 1)
    assert filenames(env.rennet, "/fast/simple/revalidated/") == ["revalidated-1.0-py3-none-any.whl"]
    assert env.fast_up.count("/simple/revalidated/") == 2
    assert "if-none-match" in env.fast_up.seen_headers("/simple/revalidated/")[-1]
    assert env.fast_up.answered("/simple/revalidated/", 304) == 1
    line = env.rennet.wait_for_access("/fast/simple/revalidated/", "refresh")
    assert (line.method, line.status) == ("GET", 200)

    env.fast_up.add(make_wheel("revalidated", "2.0"))
    env.expire()
    assert filenames(env.rennet, "/fast/simple/revalidated/") == [
        "revalidated-1.0-py3-none-any.whl",
        "revalidated-2.0-py3-none-any.whl",
    ]
    assert env.fast_up.answered("/simple/revalidated/", 200) == 2


def test_expired_page_is_revalidated_with_last_modified(env: Fixture) -> None:
    env.fast_up.validator = "last-modified"
    try:
        env.fast_up.add(make_wheel("dated", "1.0"))
        filenames(env.rennet, "/fast/simple/dated/")
        env.expire()
        filenames(env.rennet, "/fast/simple/dated/")
    finally:
        env.fast_up.validator = "etag"
    assert "if-modified-since" in env.fast_up.seen_headers("/simple/dated/")[-1]
    assert env.fast_up.answered("/simple/dated/", 304) == 1


def test_our_etag_follows_the_content(env: Fixture) -> None:
    env.fast_up.add(make_wheel("tagged", "1.0"))
    path = "/fast/simple/tagged/"
    first = env.rennet.get(path, headers={"accept": JSON_V1}).headers["etag"]
    env.expire()
    assert env.rennet.get(path, headers={"accept": JSON_V1}).headers["etag"] == first, "a 304 keeps the ETag"
    env.fast_up.add(make_wheel("tagged", "1.1"))
    env.expire()
    changed = env.rennet.get(path, headers={"accept": JSON_V1, "if-none-match": first})
    assert changed.status_code == 200
    assert changed.headers["etag"] != first


def test_yanking_upstream_shows_after_refresh(env: Fixture) -> None:
    wheel = make_wheel("yankee", "1.0")
    env.fast_up.add(wheel)
    data = json.loads(env.rennet.get("/fast/simple/yankee/", headers={"accept": JSON_V1}).content)
    assert data["files"][0]["yanked"] is False
    env.fast_up.replace(replace(wheel, yanked="security hole"))
    env.expire()
    data = json.loads(env.rennet.get("/fast/simple/yankee/", headers={"accept": JSON_V1}).content)
    assert data["files"][0]["yanked"] == "security hole"


def test_a_project_dropped_upstream_keeps_its_held_files(env: Fixture) -> None:
    """An upstream 404 for a whole project: what we hold stays listed (marked gone), the rest goes."""
    held, other = make_wheel("dropped", "1.0"), make_wheel("dropped", "2.0")
    env.fast_up.add(held, other)
    assert filenames(env.rennet, "/fast/simple/dropped/") == [held.filename, other.filename]
    assert env.rennet.get(f"/fast/files/dropped/{held.filename}").content == held.data
    # The client may finish once the bytes are verified; they are recorded as held right after.
    wait_until_held(env.rennet, held.filename, held.sha256)
    env.fast_up.remove(held.filename)
    env.fast_up.remove(other.filename)
    del env.fast_up.projects["dropped"]
    env.expire()
    assert filenames(env.rennet, "/fast/simple/dropped/") == [held.filename]
    assert env.rennet.get(f"/fast/files/dropped/{held.filename}").content == held.data
    assert env.rennet.get(f"/fast/files/dropped/{other.filename}").status_code == 404


def test_missing_projects_are_cached_briefly(env: Fixture) -> None:
    for _ in range(4):
        response = env.rennet.get("/negative/simple/not-yet/")
        assert response.status_code == 404
        assert "not-yet" in response.text
    assert env.fast_up.count("/simple/not-yet/") == 1
    env.fast_up.add(make_wheel("not-yet", "1.0"))
    assert env.rennet.get("/negative/simple/not-yet/").status_code == 404  # still negatively cached
    env.advance(NEGATIVE_TTL - 10)
    assert env.rennet.get("/negative/simple/not-yet/").status_code == 404, "negatively cached for its whole TTL"
    assert env.fast_up.count("/simple/not-yet/") == 1
    env.advance(11)
    assert filenames(env.rennet, "/negative/simple/not-yet/") == ["not_yet-1.0-py3-none-any.whl"]
    assert env.fast_up.count("/simple/not-yet/") == 2


def test_concurrent_refreshes_are_coalesced(env: Fixture) -> None:
    env.fast_up.add(make_wheel("popular", "1.0"))
    # Clients arriving during the slow answer join it; those after it find a fresh page: one fetch either way.
    env.fast_up.fault("/simple/popular/", "slow:0.8")
    try:
        outcomes = fetch_concurrently(f"{env.rennet.url}/fast/simple/popular/", 30, {"accept": JSON_V1})
        assert all(o.status == 200 for o in outcomes), {o.status for o in outcomes}
        assert env.fast_up.count("/simple/popular/") == 1, "a cold page is fetched once"
        env.expire()
        outcomes = fetch_concurrently(f"{env.rennet.url}/fast/simple/popular/", 30, {"accept": JSON_V1})
        assert all(o.status == 200 for o in outcomes)
        assert env.fast_up.count("/simple/popular/") == 2, "an expired page is refreshed once"
    finally:
        env.fast_up.fault("/simple/popular/", None)
