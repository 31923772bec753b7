"""What handlers need from the request: the registry, the index named in the URL, and the access-log note."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from rennet.service.base import IndexService
from rennet.service.registry import Registry
from rennet.web.responses import error_response

__all__ = ["index_or_error", "note_cache", "registry"]


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


def note_cache(request: Request, state: str) -> None:
    note = request.scope.get("rennet")
    if note is not None:
        note["cache"] = state
