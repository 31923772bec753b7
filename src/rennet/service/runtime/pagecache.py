"""Rendered pages kept in each worker's memory, within a byte budget, least recently used out first.

A cached page knows which change counters (see storage.generations) it depends on and until when its content
is fresh; the hot path checks both and hands out bytes rendered once per representation.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from rennet.domain.files import ProjectPage
from rennet.domain.negotiation import Format
from rennet.domain.simple import render_project_html, render_project_json
from rennet.service.answers import CacheOutcome
from rennet.service.runtime.clock import Clock
from rennet.storage.generations import Generation, Generations

__all__ = ["CachedPage", "PageCache", "Rendered"]

GZIP_MIN_BYTES = 860
_BASE_WEIGHT = 512  # the page object itself, roughly


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    etag: str


class CachedPage:
    """A project page (or the knowledge that there is none) as one index serves it.

    `version` identifies the content: equal versions render to equal bytes, so a refresh that changes nothing
    keeps the rendered bytes. `state` says how it was obtained, for the access log: hit, miss, stale, refresh.
    """

    __slots__ = (
        "_owners",
        "_variants",
        "deps",
        "fresh_until",
        "message",
        "owner",
        "page",
        "state",
        "version",
        "via",
        "weight",
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
    ) -> None:
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
        self._variants: dict[tuple[Format, str, bool], Rendered] = {}

    def valid(self, generations: Generations) -> bool:
        return all(generations.get(slot) == value for slot, value in self.deps)

    def render(self, fmt: Format, prefix: str, compressed: bool) -> Rendered:
        key = (fmt, prefix, compressed)
        found = self._variants.get(key)
        if found is not None:
            return found
        assert self.page is not None
        if compressed:
            plain = self.render(fmt, prefix, False)
            rendered = Rendered(gzip.compress(plain.body, 6, mtime=0), plain.etag[:-1] + '-gz"')
        else:
            body = (
                render_project_json(self.page, prefix, self.via)
                if fmt is Format.JSON
                else render_project_html(self.page, prefix, self.via)
            )
            rendered = Rendered(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
        self._variants[key] = rendered
        self._grow(len(rendered.body))
        return rendered

    def stale(self, until: float, generations: Generations) -> CachedPage:
        """This page, served as it is until `until` although it may be out of date (its source failed)."""
        deps = tuple(Generation(dep.slot, generations.get(dep.slot)) for dep in self.deps)
        copy = CachedPage(self.page, deps, until, self.version, "stale", self.message, self.via)
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
        """Take over the rendered bytes of an older copy with the same version."""
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
