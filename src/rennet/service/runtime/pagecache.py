"""Rendered pages kept in each worker's memory, within a byte budget, least recently used out first.

A cached page knows which change counters (see storage.generations) it depends on and until when its content
is fresh; the hot path checks both and hands out bytes rendered once per representation.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from rennet.domain.advisories import Advisory
from rennet.domain.files import ProjectPage
from rennet.domain.negotiation import Format
from rennet.domain.policy import Refusal
from rennet.domain.simple import names_provenance, render_project_html, render_project_json
from rennet.service.answers import CacheOutcome
from rennet.service.runtime.clock import Clock
from rennet.service.runtime.policing import PolicyGate
from rennet.storage.generations import Generation, Generations

__all__ = ["CachedPage", "PageCache", "Rendered"]

GZIP_MIN_BYTES = 860
# Pages with this many files are rendered in a worker thread: a 200,000-file page takes seconds to render and
# compress, which on the event loop would hold every other request (health checks included) that long.
LARGE_PAGE_FILES = 1000
_BASE_WEIGHT = 512  # the page object itself, roughly
MAX_ORIGIN_VARIANTS = 16  # renderings kept of a page that names provenance (4 per origin: formats, gzip)


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    etag: str


Variants = tuple["Rendered", "Rendered | None"]  # plain, and gzipped when asked


def _render(
    page: ProjectPage, via: str | None, fmt: Format, prefix: str, compressed: bool, plain: Rendered | None
) -> Variants:
    """The plain bytes and ETag of one representation, and the gzipped ones when asked (pure: safe in a worker
    thread). The gzipped ETag is the plain one's with a suffix, so `plain` is reused when rendered already.
    `prefix` is "<origin> <relative prefix>" for a page that names provenance (see CachedPage.variant)."""
    if plain is None:
        render = render_project_json if fmt is Format.JSON else render_project_html
        origin, _, relative = prefix.rpartition(" ")
        body = render(page, relative, via, origin=origin)
        plain = Rendered(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    if not compressed:
        return plain, None
    return plain, Rendered(gzip.compress(plain.body, 6, mtime=0), plain.etag[:-1] + '-gz"')


class CachedPage:
    """A project page (or the knowledge that there is none) as one index serves it.

    `version` identifies the source content: equal versions and equal `withheld` (the files a policy hides) render
    to equal bytes, so a refresh that changes nothing keeps the rendered bytes. `state` says how it was obtained,
    for the access log: hit, miss, stale, refresh.

    With a `gate` (the index's policy, given the project's `advisories`), `page` is what the policy lets be seen
    at `now`, `source` the page it was screened from, `hidden` why each other file is hidden (with `hidden`
    given: files members of a group hid), and the page is fresh no longer than until the policy's verdict on one
    of its files changes by itself.
    """

    __slots__ = (
        "_names_provenance",
        "_owners",
        "_rendering",
        "_variants",
        "deps",
        "fresh_until",
        "hidden",
        "message",
        "owner",
        "page",
        "source",
        "state",
        "version",
        "via",
        "weight",
        "withheld",
    )

    def __init__(
        self,
        page: ProjectPage | None,
        deps: tuple[Generation, ...],
        fresh_until: float,
        version: Hashable,
        state: CacheOutcome = "miss",
        message: str | None = None,
        via: str | None = None,
        gate: PolicyGate | None = None,
        now: float = 0.0,
        hidden: Mapping[str, Refusal] | None = None,
        advisories: tuple[Advisory, ...] = (),
    ) -> None:
        self.source = page
        self.hidden: Mapping[str, Refusal] = hidden or {}
        if gate is not None and page is not None and gate.applies(advisories):
            screened = gate.screen(page, now, advisories)
            page, fresh_until = screened.page, min(fresh_until, screened.changes_at)
            self.hidden = {**self.hidden, **screened.hidden} if self.hidden else screened.hidden
        self.withheld = frozenset(self.hidden)
        self.page = page
        self.deps = deps
        self.fresh_until = fresh_until
        self.version = version
        self.state = state
        self.message = message
        self.via = via
        self._owners: dict[str, str] | None = None
        self.weight = _BASE_WEIGHT
        self.owner: PageCache | None = None
        self._names_provenance: bool | None = None
        self._variants: dict[tuple[Format, str, bool], Rendered] = {}
        self._rendering: dict[tuple[Format, str, bool], asyncio.Future[Variants]] | None = None

    def variant(self, prefix: str, origin: Callable[[], str]) -> str:
        """The rendering's `prefix` key: a page that names provenance names it by absolute URL, so its renderings
        depend on the server's `origin` too (asked only then: building it costs the hot path)."""
        if self._names_provenance is None:
            self._names_provenance = self.page is not None and names_provenance(self.page)
        if not self._names_provenance:
            return prefix
        # A Host header is the client's to choose: beyond a few origins, a page is rendered but not kept.
        return f"{origin()} {prefix}"

    def _keeps(self, prefix: str) -> bool:
        return " " not in prefix or len(self._variants) < MAX_ORIGIN_VARIANTS

    def valid(self, generations: Generations) -> bool:
        return all(generations.get(slot) == value for slot, value in self.deps)

    def render(self, fmt: Format, prefix: str, compressed: bool) -> Rendered:
        """The page in one representation, rendered on first use and kept."""
        found = self._variants.get((fmt, prefix, compressed))
        if found is not None:
            return found
        assert self.page is not None
        plain = self._variants.get((fmt, prefix, False))
        return self._keep(fmt, prefix, _render(self.page, self.via, fmt, prefix, compressed, plain))

    def rendered(self, fmt: Format, prefix: str, compressed: bool) -> Rendered | None:
        """The representation if it was rendered before: the hot path's answer, with no coroutine to await."""
        return self._variants.get((fmt, prefix, compressed))

    async def render_off_loop(self, fmt: Format, prefix: str, compressed: bool) -> Rendered:
        """As render(), but a large page is rendered in a worker thread, once however many ask for it at once:
        the event loop goes on serving everyone else meanwhile."""
        key = (fmt, prefix, compressed)
        found = self._variants.get(key)
        if found is not None or self.page is None or len(self.page.files) < LARGE_PAGE_FILES:
            return found or self.render(fmt, prefix, compressed)
        if self._rendering is None:
            self._rendering = {}
        pending = self._rendering.get(key)
        if pending is None:
            known = self._variants.get((fmt, prefix, False))
            work = asyncio.to_thread(_render, self.page, self.via, fmt, prefix, compressed, known)
            pending = self._rendering[key] = asyncio.ensure_future(work)
            pending.add_done_callback(lambda done: self._rendered(key, done))
        plain, gzipped = await asyncio.shield(pending)
        return self._variants.get(key) or gzipped or plain

    def _rendered(self, key: tuple[Format, str, bool], done: asyncio.Future[Variants]) -> None:
        # On the event loop, where the page and its cache change: the thread only made the bytes.
        assert self._rendering is not None
        self._rendering.pop(key, None)
        if not done.cancelled() and done.exception() is None:
            self._keep(key[0], key[1], done.result())

    def _keep(self, fmt: Format, prefix: str, rendered: Variants) -> Rendered:
        """Keep the variants just rendered (each once); the one asked for."""
        plain, gzipped = rendered
        for compressed, variant in ((False, plain), (True, gzipped)):
            if variant is not None and (fmt, prefix, compressed) not in self._variants and self._keeps(prefix):
                self._variants[(fmt, prefix, compressed)] = variant
                self._grow(len(variant.body))
        return gzipped or plain

    def stale(self, until: float, generations: Generations) -> CachedPage:
        """This page, served as it is until `until` although it may be out of date (its source failed)."""
        deps = tuple(Generation(dep.slot, generations.get(dep.slot)) for dep in self.deps)
        copy = CachedPage(self.page, deps, until, self.version, "stale", self.message, self.via, hidden=self.hidden)
        copy.source = self.source
        copy.adopt(self)
        return copy

    def index_of(self, filename: str) -> str | None:
        """The index that holds a listed file (built once: groups look files up on every download)."""
        if self.page is None:
            return None
        if self._owners is None:
            self._owners = {file.filename: file.index for file in self.page.listed_files}
        return self._owners.get(filename)

    def adopt(self, older: CachedPage) -> None:
        """Take over the rendered bytes of an older copy with the same version (unless a policy shows another
        set of its files now)."""
        if older.withheld != self.withheld:
            return
        for key, rendered in older._variants.items():
            self._variants.setdefault(key, rendered)
        # Recounted rather than copied: this copy may hold variants of its own already.
        self._grow(self._weigh() - self.weight)

    def _weigh(self) -> int:
        return _BASE_WEIGHT + sum(len(rendered.body) for rendered in self._variants.values())

    def _grow(self, delta: int) -> None:
        self.weight += delta
        if self.owner is not None:
            self.owner.used += delta
            self.owner.trim()


class PageCache:
    def __init__(self, budget_bytes: int, clock: Clock) -> None:
        self.budget = budget_bytes
        self.clock = clock
        self.used = 0
        self._pages: OrderedDict[Hashable, CachedPage] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: Hashable) -> CachedPage | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def hit(self, key: Hashable, generations: Generations) -> CachedPage | None:
        """The cached page if it is still fresh and nothing it depends on changed: the whole hot path."""
        page = self.get(key)
        if page is not None and self.clock.now() < page.fresh_until and page.valid(generations):
            page.state = "hit"
            return page
        return None

    def put(self, key: Hashable, page: CachedPage) -> None:
        self.discard(key)
        self._pages[key] = page
        page.owner = self
        self.used += page.weight
        self.trim()

    def trim(self) -> None:
        """Drop least recently used pages until the rendered bytes fit the budget."""
        while self.used > self.budget and len(self._pages) > 1:
            _, dropped = self._pages.popitem(last=False)
            self._release(dropped)

    def discard(self, key: Hashable) -> None:
        page = self._pages.pop(key, None)
        if page is not None:
            self._release(page)

    def _release(self, page: CachedPage) -> None:
        page.owner = None
        self.used -= page.weight
