"""The Simple Repository API over HTTP: project lists and project pages, negotiated, cached and conditional."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from rennet.domain.names import InvalidName, check_project_name
from rennet.domain.negotiation import Format, Representation, negotiate, representation_for
from rennet.service.errors import ServiceError
from rennet.service.indexes.interface import IndexService
from rennet.service.runtime.pagecache import CachedPage
from rennet.web.context import index_path, note_cache, open_index, registry
from rennet.web.responses import BytesResponse, FileSend, error_response, etag_matches, refusal

__all__ = ["cache_control", "open_project", "project_list", "project_page", "redirect_to_slash"]

_PREFIX = {True: "../../../", False: "../../"}  # from a project page back to the server root
_SNAPSHOT_PREFIX = "../../../../../"  # from /<index>/snapshot/<instant>/simple/<project>/


def _representation(request: Request, accept: str | None) -> Representation:
    if request.scope["query_string"]:
        requested = request.query_params.get("format")
        # Query strings decode '+' as a space, and a media type has no spaces: ?format=...v1+json typed by hand.
        if requested and (chosen := representation_for(requested.replace(" ", "+"))):
            return chosen
    return negotiate(accept)


def _prefix(request: Request) -> str:
    params = request.path_params
    return _SNAPSHOT_PREFIX if "instant" in params else _PREFIX[params.get("index") is not None]


def _asked(request: Request) -> dict[bytes, bytes]:
    """The request's headers by name, read in one pass (the first of repeated ones), for the page hot path."""
    asked: dict[bytes, bytes] = {}
    for name, value in request.scope["headers"]:
        asked.setdefault(name, value)
    return asked


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


@lru_cache(maxsize=256)
def _accepts_gzip(header: str) -> bool:
    """Whether Accept-Encoding allows gzip (RFC 9110, 12.5.3): "gzip;q=0" refuses it, "*" allows it."""
    qualities: dict[str, float] = {}
    for item in header.split(",")[:32]:
        coding, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        qualities[coding.strip().lower()] = quality
    for name in ("gzip", "x-gzip", "*"):
        if name in qualities:
            return qualities[name] > 0
    return False


def cache_control(index: IndexService, page: CachedPage | None = None, now: float = 0.0) -> str:
    """Hosted content changes on upload, so anything containing it must be revalidated (a fast 304). A proxy page
    may be kept as long as it stays fresh here (`now` is the worker's clock), at most ten minutes."""
    scope = "private" if index.config.private else "public"
    if page is None or math.isinf(page.fresh_until) or index.holds_uploads:
        return f"{scope}, max-age=0, must-revalidate"
    remaining = max(0, min(int(page.fresh_until - now), 600))
    return f"{scope}, max-age={remaining}"


async def open_project(
    request: Request, canonical: Callable[[str], str], elsewhere: bool = False
) -> tuple[IndexService, str] | Response:
    """The index named in the URL and the normalized name of the project asked for, or the response instead: a 400
    for a bad name, the index's refusal, or a 301 to `canonical(project)` below the index when the URL spells the
    name otherwise (or when `elsewhere` says the URL is not the canonical one for another reason)."""
    raw = request.path_params["project"]
    try:
        project = check_project_name(raw)
    except InvalidName as error:
        return error_response(request, 400, str(error))
    index = await open_index(request, request.path_params.get("index"))
    if isinstance(index, Response):
        return index
    if raw != project or elsewhere:
        return _redirect(request, index_path(request) + canonical(project))
    return index, project


async def project_page(request: Request) -> Response | BytesResponse:
    no_slash = not request.scope["path"].endswith("/")
    opened = await open_project(request, lambda project: f"simple/{project}/", no_slash)
    if isinstance(opened, Response):
        return opened
    index, project = opened
    try:
        page = await index.project_page(project)
    except ServiceError as error:
        note_cache(request, "error", counted="page")
        return refusal(request, error)
    note_cache(request, page.state, counted="page")
    if page.page is None:
        return error_response(request, 404, page.message or f"no project named {project!r}")
    asked = _asked(request)
    representation = _representation(request, _text(asked.get(b"accept")))
    prefix = page.variant(_prefix(request), lambda: str(request.base_url))
    compressed = _accepts_gzip(_text(asked.get(b"accept-encoding")) or "")
    fmt = representation.format
    rendered = page.rendered(fmt, prefix, compressed) or await page.render_off_loop(fmt, prefix, compressed)
    headers = [
        (b"content-type", representation.content_type.encode()),
        (b"etag", rendered.etag.encode()),
        (b"vary", b"Accept, Accept-Encoding"),
        (b"cache-control", cache_control(index, page, registry(request).shared.clock.now()).encode()),
    ]
    if rendered.etag.endswith('-gz"'):
        headers.append((b"content-encoding", b"gzip"))
    if etag_matches(_text(asked.get(b"if-none-match")), rendered.etag):
        return BytesResponse(304, headers, b"")
    return BytesResponse(200, headers, rendered.body, head=request.method == "HEAD")


async def project_list(request: Request) -> Response | FileSend:
    index_name = request.path_params.get("index")
    index = await open_index(request, index_name)
    if isinstance(index, Response):
        return index
    try:
        listing = await index.listing()
    except ServiceError as error:
        note_cache(request, "error")
        return refusal(request, error)
    note_cache(request, listing.cache)
    representation = _representation(request, request.headers.get("accept"))
    suffix = ".json" if representation.format is Format.JSON else ".html"
    compressed = _accepts_gzip(request.headers.get("accept-encoding", ""))
    path = listing.path(suffix + (".gz" if compressed else ""))
    headers = {
        "content-type": representation.content_type,
        "vary": "Accept, Accept-Encoding",
        "cache-control": cache_control(index),
    }
    if compressed:
        headers["content-encoding"] = "gzip"
    etag = f'"{listing.digest[:32]}{suffix}{"-gz" if compressed else ""}"'
    return FileSend(path, path.stat().st_size, etag, headers)


def _redirect(request: Request, path: str) -> Response:
    """A 301 to `path` below the server root (behind any mount point), keeping the query."""
    root = request.scope.get("root_path", "")
    target = f"{root}/{quote(path)}"
    if request.scope["query_string"]:
        target += "?" + request.scope["query_string"].decode("latin-1")
    return RedirectResponse(target, status_code=301)


async def redirect_to_slash(request: Request) -> Response:
    return _redirect(request, request.scope["path"].lstrip("/") + "/")
