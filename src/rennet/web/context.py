"""What handlers need from the request: the registry, the index named in the URL (with its access check),
and the access-log note."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from rennet.domain.access import Access, Identity, allowed
from rennet.domain.indexes import IndexConfig
from rennet.domain.policy import parse_instant, timestamp
from rennet.service.answers import CacheOutcome
from rennet.service.indexes.interface import IndexService
from rennet.service.indexes.snapshot import SnapshotService
from rennet.service.registry import Registry
from rennet.service.runtime.auth import AuthFailed
from rennet.web.responses import error_response

__all__ = [
    "authorize",
    "identify",
    "index_or_error",
    "index_path",
    "note_cache",
    "open_index",
    "refuse_cross_site",
    "registry",
]

CHALLENGE = {"WWW-Authenticate": 'Basic realm="rennet", charset="UTF-8"'}


def registry(request: Request) -> Registry:
    found: Registry = request.app.state.registry
    return found


def index_or_error(request: Request, name: str | None) -> IndexService | Response:
    """The index named in the URL (the default group when None), or the response that refuses it."""
    indexes = registry(request)
    if name is None:
        return indexes.default
    index = indexes.indexes.get(name)
    if index is None:
        return error_response(request, 404, f"there is no index named {name[:64]!r}")
    return index


async def open_index(request: Request, name: str | None) -> IndexService | Response:
    """The index, if this request may read it; below /<index>/snapshot/<instant>/, the index at that instant."""
    index = index_or_error(request, name)
    if not isinstance(index, Response) and index.config.private:
        refused = await authorize(request, index.config, Access.READ)
        index = refused if isinstance(refused, Response) else index
    instant = request.path_params.get("instant")
    if instant is None or isinstance(index, Response):
        return index
    return _snapshot(request, index, instant)


def _snapshot(request: Request, index: IndexService, text: str) -> IndexService | Response:
    try:
        instant = parse_instant(text)
    except ValueError as error:
        return error_response(request, 400, f"a snapshot's time: {error}")
    shared = registry(request).shared
    if instant > shared.clock.now():
        return error_response(request, 400, f"the snapshot's time {timestamp(instant)} has not come yet")
    return SnapshotService(index, instant, shared)


def index_path(request: Request) -> str:
    """The path below the server root of the index a page or file URL names: "" for the default index,
    "<index>/", or "<index>/snapshot/<instant>/" as the URL spells it."""
    index = request.path_params.get("index")
    if index is None:
        return ""
    instant = request.path_params.get("instant")
    return f"{index}/" if instant is None else f"{index}/snapshot/{instant}/"


async def authorize(request: Request, index: IndexConfig, access: Access) -> Identity | Response | None:
    """The caller's identity if allowed, else the refusal: 401 + challenge for reads (so pip and uv ask
    keyring or netrc), 403 for uploads (as PyPI)."""
    try:
        identity = await identify(request, request.headers.get("authorization"))
    except AuthFailed as error:
        if error.status == 429:
            return error_response(request, 429, error.message)
        if access is Access.UPLOAD:
            return error_response(request, 403, f"Invalid or non-existent authentication information: {error}")
        return error_response(request, 401, error.message, CHALLENGE)
    if allowed(identity, index, access):
        return identity
    if access is Access.UPLOAD:
        who = f"user {identity.user!r}" if identity else "an anonymous user"
        return error_response(request, 403, f"{who} may not upload to {index.name}")
    if identity is None:
        return error_response(request, 401, f"{index.name} is private: log in to read it", CHALLENGE)
    return error_response(request, 403, f"user {identity.user!r} may not read {index.name}")


async def identify(request: Request, authorization: str | None) -> Identity | None:
    """Who the credentials (an Authorization header's value) name; AuthFailed for bad ones, rate limits included."""
    client = request.client.host if request.client else "-"
    return await registry(request).authenticator.identify(authorization, client)


def refuse_cross_site(request: Request) -> Response | None:
    """403 for a request a browser sends on behalf of another site (a form or a script of a page elsewhere).

    A browser that remembers a user's credentials for rennet would send them along: such a page could upload,
    yank or delete in the user's name. Browsers say where a request comes from in Sec-Fetch-Site, and whose page
    sent it in Origin (which must then be this server's own: "same-site" still allows a sibling host).
    Installers and upload tools send neither."""
    if request.headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        return error_response(
            request, 403, "requests made by a page of another site are refused: changes come from tools, not browsers"
        )
    origin = request.headers.get("origin")
    if origin is not None and _origin(origin) != _origin(f"{request.url.scheme}://{request.url.netloc}"):
        return error_response(
            request, 403, f"requests made by a page of {origin[:100]!r} are refused: only this server's own pages"
        )
    return None


def _origin(url: str) -> str:
    """scheme://host:port, lower-cased, with the scheme's default port; "" for what is not an origin ("null")."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname:
        return ""
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}"


AccessNote = CacheOutcome | Literal["error", "rejected", "created", "exists", "aborted"]


def note_cache(request: Request, state: AccessNote, counted: Literal["page", "file"] | None = None) -> None:
    """The cache outcome for the access log; with `counted` ("page" or "file"), also one more request of that
    kind with this outcome for `rennet stats` (a memory write)."""
    note = request.scope.get("rennet")
    if note is not None:
        note["cache"] = state
    if counted is not None and (counters := registry(request).counters) is not None:
        counters.count(counted, state)
