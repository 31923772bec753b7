"""The ASGI application. Plain ASGI: Granian runs it for `rennet serve`; uvicorn or hypercorn can too.

uvicorn --factory rennet.web.app:create_app_from_env
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TextIO

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from rennet.config import Settings, load_settings
from rennet.service.registry import PREPARED_VARIABLE, Registry
from rennet.service.runtime.metrics import WorkerMetrics
from rennet.web.accesslog import AccessLog
from rennet.web.context import registry
from rennet.web.files import distribution_file
from rennet.web.forwarded import ForwardedHeaders
from rennet.web.hotpaths import HotPaths
from rennet.web.integrity import provenance
from rennet.web.logs import configure_logging
from rennet.web.manage import manage
from rennet.web.metrics import PUBLISH_EVERY, Exposition, metrics
from rennet.web.pypi_json import project_json
from rennet.web.responses import REFUSALS, error_response, unhandled_refusal
from rennet.web.simple import project_list, project_page, redirect_to_slash
from rennet.web.ui.account import account, change_password, create_token, revoke_token
from rennet.web.ui.admin import add_user, change_user, release_action, set_status, users
from rennet.web.ui.browse import home, index_page, project, search
from rennet.web.ui.render import STATIC
from rennet.web.ui.sessions import login, login_form, logout
from rennet.web.uploads import upload

if TYPE_CHECKING:
    pass

__all__ = ["ROUTE_KINDS", "create_app", "create_app_from_env"]

_READ = ["GET", "HEAD"]
log = logging.getLogger("rennet.web")


async def health(request: Request) -> Response:
    return PlainTextResponse("alive\n")


async def ready(request: Request) -> Response:
    # The probe writes a file and queries the database: never on the event loop, which serves everyone else.
    problem = await asyncio.to_thread(registry(request).ready)
    if problem:
        return error_response(request, 503, problem)
    return PlainTextResponse("ready\n")


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    status = error.status_code
    # The router refused the path or the method: no endpoint answered (a route that matched the path only may
    # have named itself), so /metrics counts the request as "other".
    request.scope.pop("endpoint", None)
    index = request.path_params.get("index")
    if status == 405 and request.method in _READ and index is not None and index not in registry(request).indexes:
        # /favicon.ico, /robots.txt: the shape of an upload URL (/<index>/), but no index of that name.
        status = 404
    messages = {404: "nothing here: see / for the indexes this server offers", 405: "method not allowed here"}
    return error_response(request, status, messages.get(status, str(error.detail)))


async def _refused(request: Request, error: Exception) -> Response:
    return unhandled_refusal(request, error)


async def _internal_error(request: Request, error: Exception) -> Response:
    """What Starlette answers for an exception no handler caught (it re-raises it after): the sentence names the
    request id, which the log lines of the request carry."""
    log.error("unhandled error for %s %s", request.method, request.url.path[:200], exc_info=error)
    return error_response(request, 500, "internal error; the server log has the details")


_INTEGRITY = "/integrity/{project}/{version}/{filename}/provenance"  # PEP 740


def routes(with_metrics: bool = True) -> list[BaseRoute]:
    return [
        Route("/", home, methods=_READ),
        Route("/search", search, methods=_READ),
        Route("/-/project/{index}/{project}/", project, methods=_READ),
        Route("/-/index/{index}/", index_page, methods=_READ),
        Route("/-/login", login_form, methods=_READ),
        Route("/-/login", login, methods=["POST"]),
        Route("/-/logout", logout, methods=["POST"]),
        Route("/-/account", account, methods=_READ),
        Route("/-/account/tokens", create_token, methods=["POST"]),
        Route("/-/account/tokens/revoke", revoke_token, methods=["POST"]),
        Route("/-/account/password", change_password, methods=["POST"]),
        Route("/-/manage/{index}/{project}/release", release_action, methods=["POST"]),
        Route("/-/manage/{index}/{project}/status", set_status, methods=["POST"]),
        Route("/-/admin/users", users, methods=_READ),
        Route("/-/admin/users", add_user, methods=["POST"]),
        Route("/-/admin/users/change", change_user, methods=["POST"]),
        Mount("/-/static", StaticFiles(directory=STATIC), name="static"),
        Route("/health", health, methods=_READ),
        Route("/ready", ready, methods=_READ),
        *([Route("/metrics", metrics, methods=_READ)] if with_metrics else []),
        # PyPI's JSON API, before the catch-alls: /pypi/simple/json is project "simple" on the default index,
        # while the pypi index's own pages are always asked for with a trailing slash (/pypi/simple/json/).
        # /pypi/pypi/<x>/json names project <x> in the index "pypi", not version <x> of project "pypi".
        Route("/pypi/{project}/json", project_json, methods=_READ),
        Route("/{index}/pypi/{project}/json", project_json, methods=_READ),
        Route("/pypi/{project}/{version}/json", project_json, methods=_READ),
        Route("/{index}/pypi/{project}/{version}/json", project_json, methods=_READ),
        Route("/api/{index}/{project}/{action}", manage, methods=["POST"]),
        Route("/simple", redirect_to_slash, methods=_READ),
        Route("/simple/", project_list, methods=_READ),
        Route("/simple/{project}", project_page, methods=_READ),
        Route("/simple/{project}/", project_page, methods=_READ),
        Route("/{index}/simple", redirect_to_slash, methods=_READ),
        Route("/{index}/simple/", project_list, methods=_READ),
        Route("/{index}/simple/{project}", project_page, methods=_READ),
        Route("/{index}/simple/{project}/", project_page, methods=_READ),
        Route("/{index}/files/{project}/{filename}", distribution_file, methods=_READ),
        Route(_INTEGRITY, provenance, methods=_READ),
        Route("/{index}" + _INTEGRITY, provenance, methods=_READ),
        Route("/{index}/snapshot/{instant}" + _INTEGRITY, provenance, methods=_READ),
        # An index as it was at an instant (service/indexes/snapshot.py).
        Route("/{index}/snapshot/{instant}/simple", redirect_to_slash, methods=_READ),
        Route("/{index}/snapshot/{instant}/simple/", project_list, methods=_READ),
        Route("/{index}/snapshot/{instant}/simple/{project}", project_page, methods=_READ),
        Route("/{index}/snapshot/{instant}/simple/{project}/", project_page, methods=_READ),
        Route("/{index}/snapshot/{instant}/files/{project}/{filename}", distribution_file, methods=_READ),
        # Uploads: never redirected, with or without the trailing slash.
        *(Route(path, upload, methods=["POST"]) for path in _UPLOAD_PATHS),
    ]


_UPLOAD_PATHS = ("/", "/legacy", "/legacy/", "/{index}", "/{index}/", "/{index}/legacy", "/{index}/legacy/")

# What /metrics counts a request as, by the endpoint that answered it ("other" for the rest: unknown paths, say);
# a file whose name ends in .metadata is counted as "metadata".
ROUTE_KINDS: dict[Callable[..., object], str] = {
    project_page: "page",
    distribution_file: "file",
    project_list: "list",
    redirect_to_slash: "list",
    project_json: "json",
    upload: "upload",
    manage: "manage",
    home: "home",
    search: "ui",
    project: "ui",
    index_page: "ui",
    login_form: "ui",
    login: "ui",
    logout: "ui",
    account: "ui",
    create_token: "ui",
    revoke_token: "ui",
    change_password: "ui",
    release_action: "ui",
    set_status: "ui",
    users: "ui",
    add_user: "ui",
    change_user: "ui",
    health: "probe",
    ready: "probe",
    metrics: "metrics",
}


def create_app(settings: Settings, migrated: bool = False, access_log: TextIO | None = None) -> ASGIApp:
    """The application; `access_log` is where request lines go (standard error by default)."""

    counted = WorkerMetrics() if settings.metrics else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.registry = Registry(settings, serving=True, migrated=migrated, metrics=counted)
        if counted is not None:
            app.state.exposition = Exposition(app.state.registry)
            counted.publish_every(PUBLISH_EVERY, app.state.exposition.publish)
        try:
            yield
        finally:
            await app.state.registry.close()
            if counted is not None:
                counted.flush()
            logged.flush()

    handlers: dict[Any, Any] = {HTTPException: _http_error, Exception: _internal_error}
    handlers |= dict.fromkeys(REFUSALS, _refused)
    app = Starlette(routes=routes(with_metrics=counted is not None), lifespan=lifespan, exception_handlers=handlers)
    app.router.redirect_slashes = False
    logged = AccessLog(
        HotPaths(app),
        enabled=settings.access_log,
        stream=access_log,
        log_format=settings.log_format,
        metrics=counted,
        kinds=ROUTE_KINDS,
    )
    if settings.forwarded_allow_ips:
        return ForwardedHeaders(logged, settings.forwarded_allow_ips)
    return logged


def create_app_from_env() -> ASGIApp:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, migrated=os.environ.get(PREPARED_VARIABLE) == "1")
