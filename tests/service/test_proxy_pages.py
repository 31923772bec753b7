"""The proxy's project pages, in-process against the fake upstream: misses, hits from memory, revalidation after
the TTL, stale pages while the upstream fails, remembered 404s, and one upstream request for concurrent callers.
Time moves by the worker's clock, never by sleeping."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from typing import Any

import pytest

from rennet.domain.files import ProjectPage
from rennet.domain.negotiation import Format
from rennet.service.errors import ServiceError
from rennet.service.runtime.pagecache import CachedPage
from tests.support.dists import make_sdist, make_wheel
from tests.support.services import Services, Worker, filenames


def test_a_first_fetch_is_a_miss_then_pages_come_from_memory(services: Services) -> None:
    up = services.upstream
    wheel, sdist = make_wheel("first-fetch", "1.0"), make_sdist("first-fetch", "1.0")
    up.add(wheel, sdist)

    async def first_worker(w: Worker) -> None:
        proxy = w.proxy()
        page = await proxy.project_page("first-fetch")
        assert page.state == "miss"
        assert filenames(page) == [wheel.filename, sdist.filename]
        assert page.page is not None
        listed = page.page.files[0]
        assert listed.index == "pypi"
        assert listed.sha256 == wheel.sha256
        assert listed.size == len(wheel.data)
        assert listed.source_url == up.file_url(wheel.filename)
        assert listed.core_metadata == {"sha256": hashlib.sha256(wheel.metadata or b"").hexdigest()}
        assert up.count("/simple/first-fetch/") == 1

        again = await proxy.project_page("first-fetch")
        assert again is page
        assert again.state == "hit"
        assert up.count("/simple/first-fetch/") == 1

    services.run(first_worker)

    async def restarted(w: Worker) -> None:
        # Nothing in memory: the catalog's copy is still fresh, and the upstream is not asked.
        page = await w.proxy().project_page("first-fetch")
        assert page.state == "hit"
        assert filenames(page) == [wheel.filename, sdist.filename]

    services.run(restarted)
    assert up.count("/simple/first-fetch/") == 1


def test_after_the_ttl_a_conditional_request_and_a_304_keep_the_rendered_page(services: Services) -> None:
    up = services.upstream
    old, new = make_wheel("revalidated", "1.0"), make_wheel("revalidated", "2.0")
    up.add(old)

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        ttl = proxy.config.page_ttl
        first = await proxy.project_page("revalidated")
        rendered = first.render(Format.JSON, "/", False)

        w.clock.advance(ttl - 1)
        assert await proxy.project_page("revalidated") is first
        assert up.count("/simple/revalidated/") == 1

        w.clock.advance(2)
        second = await proxy.project_page("revalidated")
        assert second.state == "refresh"
        assert up.count("/simple/revalidated/") == 2
        assert up.answered("/simple/revalidated/", 304) == 1
        conditional = up.seen_headers("/simple/revalidated/")[-1]
        assert conditional.get("if-none-match", "").startswith('"')
        # Unchanged content keeps the bytes rendered before (and their ETag), and is fresh for another TTL.
        assert second.render(Format.JSON, "/", False) is rendered
        assert second.fresh_until >= w.clock.now() + ttl - 1
        assert await proxy.project_page("revalidated") is second
        assert up.count("/simple/revalidated/") == 2

        # A changed upstream page comes whole (200) and is rendered anew.
        up.add(new)
        w.clock.advance(ttl + 1)
        third = await proxy.project_page("revalidated")
        assert third.state == "miss"
        assert filenames(third) == [old.filename, new.filename]
        assert third.render(Format.JSON, "/", False).etag != rendered.etag
        assert up.answered("/simple/revalidated/", 200) == 2

    services.run(scenario)


def test_an_upstream_failure_serves_the_stale_page_and_leaves_the_upstream_alone(services: Services) -> None:
    up = services.upstream
    flaky, neighbour = make_wheel("flaky", "1.0"), make_wheel("flaky-neighbour", "1.0")
    up.add(flaky, neighbour)

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        ttl, retry_after = proxy.config.page_ttl, proxy.config.retry_after
        first = await proxy.project_page("flaky")
        await proxy.project_page("flaky-neighbour")
        w.clock.advance(ttl + 1)

        up.fault("/simple/flaky/", "500")
        stale = await proxy.project_page("flaky")
        assert stale.state == "stale"
        assert filenames(stale) == filenames(first) == [flaky.filename]
        assert up.answered("/simple/flaky/", 500) == 1

        # For retry_after, no page of this proxy goes to the upstream: this one is served from memory, and
        # another one that is due for revalidation is served stale from the catalog.
        w.clock.advance(retry_after / 2)
        assert filenames(await proxy.project_page("flaky")) == [flaky.filename]
        other = await proxy.project_page("flaky-neighbour")
        assert other.state == "stale"
        assert filenames(other) == [neighbour.filename]
        assert up.count("/simple/flaky/") == 2
        assert up.count("/simple/flaky-neighbour/") == 1

        # After retry_after the upstream is asked again (conditionally) and the page is fresh once more.
        up.fault("/simple/flaky/", None)
        w.clock.advance(retry_after / 2 + 1)
        back = await proxy.project_page("flaky")
        assert back.state == "refresh"
        assert up.answered("/simple/flaky/", 304) == 1
        assert up.count("/simple/flaky/") == 3

    services.run(scenario)


def test_a_page_never_fetched_fails_with_the_upstreams_failure(services: Services) -> None:
    up = services.upstream
    up.add(make_wheel("never-fetched", "1.0"), make_wheel("never-answered", "1.0"))
    services.configure('[index.pypi]\nread_timeout = "300ms"\n')
    up.fault("/simple/never-fetched/", "500")
    up.fault("/simple/never-answered/", "hang")

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        with pytest.raises(ServiceError) as failed:
            await proxy.project_page("never-fetched")
        assert failed.value.status == 502
        assert "500" in failed.value.message
        with pytest.raises(ServiceError) as timed_out:
            await proxy.project_page("never-answered")
        assert timed_out.value.status == 504
        assert "in time" in timed_out.value.message

    services.run(scenario)


def test_a_missing_project_is_remembered_for_the_negative_ttl(services: Services) -> None:
    up = services.upstream
    late = make_wheel("not-yet", "1.0")

    async def first_worker(w: Worker) -> None:
        proxy = w.proxy()
        absent = await proxy.project_page("not-yet")
        assert absent.page is None
        assert absent.message is not None and "no project named 'not-yet'" in absent.message
        assert up.answered("/simple/not-yet/", 404) == 1
        w.clock.advance(proxy.config.negative_ttl - 1)
        assert (await proxy.project_page("not-yet")).page is None
        assert up.count("/simple/not-yet/") == 1

    services.run(first_worker)

    async def restarted(w: Worker) -> None:
        proxy = w.proxy()
        # The catalog remembers the 404 too: a new worker does not ask again before the negative TTL is over.
        assert (await proxy.project_page("not-yet")).page is None
        assert up.count("/simple/not-yet/") == 1
        up.add(late)
        w.clock.advance(proxy.config.negative_ttl + 1)
        found = await proxy.project_page("not-yet")
        assert filenames(found) == [late.filename]
        assert up.count("/simple/not-yet/") == 2

    services.run(restarted)


def test_concurrent_requests_for_one_page_make_one_upstream_request(services: Services) -> None:
    up = services.upstream
    up.add(make_wheel("crowded", "1.0"))

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        pages = await asyncio.gather(*(proxy.project_page("crowded") for _ in range(20)))
        assert all(page is pages[0] for page in pages)
        assert up.count("/simple/crowded/") == 1

        # Revalidation after the TTL is shared the same way.
        w.clock.advance(proxy.config.page_ttl + 1)
        pages = await asyncio.gather(*(proxy.project_page("crowded") for _ in range(20)))
        assert all(page is pages[0] for page in pages)
        assert pages[0].state == "refresh"
        assert up.count("/simple/crowded/") == 2

    services.run(scenario)


def test_a_first_page_is_not_read_back_yet_renders_as_the_catalogs_copy(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's first page is served as parsed, without reading it back from the catalog: it must render to
    the bytes (and ETag) every later worker renders from the catalog."""
    up = services.upstream
    up.add(
        make_wheel("first-page", "1.0", requires_python=">=3.9"),
        replace(make_sdist("first-page", "1.0"), yanked="broken build", upload_time="2024-05-01T10:20:30.123457Z"),
        replace(make_wheel("first-page", "0.9"), upload_time=None),
        make_wheel("first-page", "2.0rc1"),
    )
    up.statuses["first-page"] = ("deprecated", "use second-page")
    up.attest(make_wheel("first-page", "1.0").filename, b'{"version": 1, "attestation_bundles": []}')
    rendered: dict[tuple[Format, bool], tuple[bytes, str]] = {}

    def renders(page: CachedPage) -> dict[tuple[Format, bool], tuple[bytes, str]]:
        return {(fmt, gz): ((r := page.render(fmt, "/", gz)).body, r.etag) for fmt in Format for gz in (False, True)}

    async def first(w: Worker) -> None:
        read_back: list[object] = []
        catalog = w.shared.catalog
        original = catalog.page

        def page_read(*args: Any, **kwargs: Any) -> ProjectPage:
            read_back.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(catalog, "page", page_read)
        page = await w.proxy().project_page("first-page")
        assert page.state == "miss"
        assert not read_back, "the first page was read back from the catalog"
        rendered.update(renders(page))

    async def later(w: Worker) -> None:
        page = await w.proxy().project_page("first-page")
        assert page.state == "hit"
        assert renders(page) == rendered

    services.run(first)
    services.run(later)
