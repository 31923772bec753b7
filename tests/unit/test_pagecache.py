"""Rendered pages in memory: variants, ETags, gzip, and the byte budget."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.negotiation import Format
from rennet.domain.simple import render_project_html, render_project_json
from rennet.service.runtime import pagecache
from rennet.service.runtime.clock import Clock
from rennet.service.runtime.pagecache import CachedPage, PageCache, Rendered
from rennet.storage.generations import HostGenerations, slot_of

BASE_WEIGHT = CachedPage(None, (), 0.0, None).weight


def project(files: int = 1) -> ProjectPage:
    listed = tuple(
        DistFile(f"foo-1.{i}-py3-none-any.whl", "pypi", hashes={"sha256": f"{i:064x}"}, size=i) for i in range(files)
    )
    return ProjectPage("foo", listed)  # type: ignore[arg-type]


def cached(files: int = 1, version: object = 1, deps: tuple[tuple[int, int], ...] = ()) -> CachedPage:
    return CachedPage(project(files), deps, 0.0, version)  # type: ignore[arg-type]


def held(cache: PageCache) -> dict[object, CachedPage]:
    return dict(cache._pages)


def assert_accounted(cache: PageCache) -> None:
    pages = held(cache)
    assert cache.used == sum(page.weight for page in pages.values())
    assert cache.used <= cache.budget or len(pages) == 1
    for page in pages.values():
        assert page.owner is cache
        assert page.weight == BASE_WEIGHT + sum(len(r.body) for r in page._variants.values())


# -- rendering ----------------------------------------------------------------------------------------------------


def test_renders_each_representation_once() -> None:
    page = cached()
    html = page.render(Format.HTML, "../../", False)
    assert html.body == render_project_html(project(), "../../")
    assert page.render(Format.HTML, "../../", False) is html
    as_json = page.render(Format.JSON, "../../", False)
    assert as_json.body == render_project_json(project(), "../../")
    assert json.loads(as_json.body)["name"] == "foo"


def test_etag_per_representation() -> None:
    page = cached(files=40)
    etags = {
        page.render(fmt, prefix, compressed).etag
        for fmt in (Format.HTML, Format.JSON)
        for prefix in ("../../", "../../../")
        for compressed in (False, True)
    }
    assert len(etags) == 8
    for etag in etags:
        assert etag.startswith('"')
        assert etag.endswith('"')
        assert not etag.startswith("W/")


def test_etag_follows_content_not_object() -> None:
    one, two = cached(files=3), cached(files=3)
    assert one.render(Format.JSON, "../../", False).etag == two.render(Format.JSON, "../../", False).etag
    other = cached(files=4)
    assert one.render(Format.JSON, "../../", False).etag != other.render(Format.JSON, "../../", False).etag


def test_gzip_variant() -> None:
    page = cached(files=40)
    plain = page.render(Format.JSON, "../../", False)
    packed = page.render(Format.JSON, "../../", True)
    assert gzip.decompress(packed.body) == plain.body
    assert packed.etag == plain.etag[:-1] + '-gz"'
    assert len(packed.body) < len(plain.body)
    # mtime=0: the same content compresses to the same bytes in every worker.
    assert cached(files=40).render(Format.JSON, "../../", True).body == packed.body


def test_small_pages_are_compressed_too() -> None:
    # The web layer decides Content-Encoding from the ETag suffix, so every compressed variant is gzip.
    page = cached(files=0)
    plain = page.render(Format.HTML, "../../", False)
    packed = page.render(Format.HTML, "../../", True)
    assert gzip.decompress(packed.body) == plain.body
    assert packed.etag.endswith('-gz"')


def test_compressed_first_also_renders_plain() -> None:
    page = cached(files=40)
    packed = page.render(Format.HTML, "../../", True)
    plain = page.render(Format.HTML, "../../", False)
    assert gzip.decompress(packed.body) == plain.body


def test_valid_follows_generations(tmp_path: Path) -> None:
    generations = HostGenerations(tmp_path / "generations")
    slot = slot_of("pypi", "foo")
    page = cached(deps=((slot, generations.get(slot)),))
    assert page.valid(generations)
    generations.bump(slot_of("pypi", "bar") if slot_of("pypi", "bar") != slot else (slot + 1) % 4096)
    assert page.valid(generations)
    generations.bump(slot)
    assert not page.valid(generations)
    assert cached(deps=()).valid(generations)
    generations.close()


# -- budget -------------------------------------------------------------------------------------------------------


def test_weight_counts_rendered_bytes() -> None:
    cache = PageCache(1 << 20, Clock())
    page = cached(files=5)
    cache.put("a", page)
    assert cache.used == BASE_WEIGHT
    html = page.render(Format.HTML, "../../", False)
    assert cache.used == BASE_WEIGHT + len(html.body)
    page.render(Format.HTML, "../../", False)  # already rendered: no growth
    assert cache.used == BASE_WEIGHT + len(html.body)
    assert_accounted(cache)


def test_least_recently_used_goes_first() -> None:
    cache = PageCache(3 * BASE_WEIGHT, Clock())
    for key in "abc":
        cache.put(key, cached())
    assert cache.get("a") is not None  # now most recent
    cache.put("d", cached())
    assert set(held(cache)) == {"a", "c", "d"}
    assert_accounted(cache)


def test_rendering_can_evict_others() -> None:
    cache = PageCache(4 * BASE_WEIGHT, Clock())
    for key in "abc":
        cache.put(key, cached())
    big = cached(files=30)
    cache.put("big", big)
    big.render(Format.JSON, "../../", False)
    assert "big" in held(cache)
    assert "a" not in held(cache)
    assert_accounted(cache)


def test_one_page_larger_than_the_budget_stays() -> None:
    cache = PageCache(10, Clock())
    page = cached(files=30)
    cache.put("a", page)
    page.render(Format.HTML, "../../", False)
    assert held(cache) == {"a": page}
    assert_accounted(cache)


def test_replacing_a_key_releases_the_old_page() -> None:
    cache = PageCache(1 << 20, Clock())
    old = cached(files=10)
    cache.put("a", old)
    old.render(Format.JSON, "../../", False)
    new = cached(files=2)
    cache.put("a", new)
    assert old.owner is None
    assert cache.used == new.weight
    # The old page may still be rendered by a request that holds it, without touching the budget.
    old.render(Format.HTML, "../../", False)
    assert cache.used == new.weight
    assert_accounted(cache)


def test_discard() -> None:
    cache = PageCache(1 << 20, Clock())
    page = cached()
    cache.put("a", page)
    cache.discard("a")
    cache.discard("never there")
    assert cache.used == 0
    assert cache.get("a") is None
    assert page.owner is None


def test_adopt_takes_rendered_bytes_and_their_weight() -> None:
    cache = PageCache(1 << 20, Clock())
    older = cached(files=10)
    cache.put("a", older)
    html = older.render(Format.HTML, "../../", False)
    newer = cached(files=10)
    newer.adopt(older)
    assert newer.render(Format.HTML, "../../", False) is html
    cache.put("a", newer)
    assert cache.used == newer.weight == older.weight
    assert_accounted(cache)


def test_adopt_after_rendering_counts_both() -> None:
    cache = PageCache(1 << 20, Clock())
    older = cached(files=10)
    older.render(Format.HTML, "../../", False)
    newer = cached(files=10)
    cache.put("a", newer)
    newer.render(Format.JSON, "../../", False)
    newer.adopt(older)
    assert_accounted(cache)


def test_adopt_of_the_same_variant_counts_it_once() -> None:
    cache = PageCache(1 << 20, Clock())
    older, newer = cached(files=10), cached(files=10)
    older.render(Format.HTML, "../../", False)
    cache.put("a", newer)
    newer.render(Format.HTML, "../../", False)
    newer.adopt(older)
    assert_accounted(cache)


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "get", "render", "discard", "adopt"]),
        st.sampled_from("abcde"),
        st.integers(0, 12),
        st.sampled_from(list(Format)),
        st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 8000), _OPS)
def test_accounting_holds_under_any_sequence(budget: int, ops: list[tuple[str, str, int, Format, bool]]) -> None:
    cache = PageCache(budget, Clock())
    for op, key, files, fmt, compressed in ops:
        if op == "put":
            cache.put(key, cached(files))
        elif op == "get":
            cache.get(key)
        elif op == "discard":
            cache.discard(key)
        elif (page := held(cache).get(key)) is not None:
            if op == "render":
                page.render(fmt, "../../", compressed)
            else:
                fresh = cached(files)
                fresh.adopt(page)
                cache.put(key, fresh)
        assert_accounted(cache)


@pytest.mark.parametrize("budget", [0, 1])
def test_tiny_budgets_keep_only_the_newest(budget: int) -> None:
    cache = PageCache(budget, Clock())
    cache.put("a", cached())
    cache.put("b", cached())
    assert set(held(cache)) == {"b"}
    assert_accounted(cache)


# -- large pages off the event loop -------------------------------------------------------------------------------


def test_a_large_page_is_rendered_once_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page of thousands of files takes long to render and gzip: never on the event loop, which must go on
    serving everyone else; concurrent requests for it share one rendering."""
    threads: list[int] = []

    def recording(page: ProjectPage, prefix: str, via: str | None = None, origin: str = "") -> bytes:
        threads.append(threading.get_ident())
        return render_project_json(page, prefix, via, origin=origin)

    monkeypatch.setattr(pagecache, "render_project_json", recording)
    page = cached(files=pagecache.LARGE_PAGE_FILES)

    async def ask() -> tuple[int, list[Rendered]]:
        answers = await asyncio.gather(*(page.render_off_loop(Format.JSON, "../../", True) for _ in range(5)))
        return threading.get_ident(), list(answers)

    loop_thread, answers = asyncio.run(ask())
    assert len(threads) == 1 and threads[0] != loop_thread
    assert all(answer is answers[0] for answer in answers)
    assert gzip.decompress(answers[0].body) == render_project_json(project(pagecache.LARGE_PAGE_FILES), "../../")
    assert page.render(Format.JSON, "../../", True) is answers[0]
    assert page.render(Format.JSON, "../../", False).body == gzip.decompress(answers[0].body)
    assert len(threads) == 1  # the plain variant came with the gzipped one


def test_a_small_page_is_rendered_where_it_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []

    def recording(page: ProjectPage, prefix: str, via: str | None = None, origin: str = "") -> bytes:
        threads.append(threading.get_ident())
        return render_project_html(page, prefix, via, origin=origin)

    monkeypatch.setattr(pagecache, "render_project_html", recording)
    page = cached(files=3)

    async def ask() -> int:
        await page.render_off_loop(Format.HTML, "../../", False)
        return threading.get_ident()

    assert threads == [] and [asyncio.run(ask())] == threads
