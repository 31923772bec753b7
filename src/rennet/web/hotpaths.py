"""The two requests that make up nearly all traffic, project pages and files, dispatched without the router.

Installers ask for `/simple/<project>/`, `/<index>/simple/<project>/` and `/<index>/files/<project>/<file>`
thousands of times a minute. Recognising those shapes by splitting the path skips Starlette's route matching
and middleware stack, which cost more than the cached answer itself. The handlers are the same ones the
router calls for every other spelling of these URLs; everything else goes through Starlette unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from rennet.web.files import distribution_file
from rennet.web.responses import REFUSALS, unhandled_refusal
from rennet.web.simple import project_page

__all__ = ["HotPaths"]

Handler = Callable[[Request], Awaitable[Any]]


class HotPaths:
    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = _match(scope["path"])
            if match is not None:
                handler, params = match
                scope["app"] = self.app
                scope["endpoint"] = handler  # as the router would: /metrics counts requests by endpoint
                scope["path_params"] = params
                request = Request(scope, receive)
                try:
                    response = await handler(request)
                except REFUSALS as error:  # as the router's exception handlers do
                    response = unhandled_refusal(request, error)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _match(path: str) -> tuple[Handler, dict[str, str]] | None:
    parts = path.split("/")
    if len(parts) == 4 and parts[1] == "simple" and parts[2] and not parts[3]:
        return project_page, {"project": parts[2]}
    if len(parts) == 5 and parts[1] and parts[3] and not parts[4] and parts[2] == "simple":
        return project_page, {"index": parts[1], "project": parts[3]}
    if len(parts) == 5 and parts[1] and parts[3] and parts[4] and parts[2] == "files":
        return distribution_file, {"index": parts[1], "project": parts[3], "filename": parts[4]}
    return None
