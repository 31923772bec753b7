"""The pages anyone may read, within the API's read rules: the landing page, search results, a project in an
index, and recent uploads. Nothing of a private index appears to a viewer who may not read it: not its projects,
not its counts, not its uploads."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from rennet import __version__
from rennet.domain.access import Access, Identity, allowed
from rennet.domain.indexes import GroupIndex, HostedIndex, IndexConfig, leaf_members
from rennet.domain.names import InvalidName, check_project_name
from rennet.domain.readme import render_description
from rennet.domain.search import SearchHit
from rennet.service.errors import NotFound, ServiceError
from rennet.service.indexes.interface import IndexService
from rennet.service.projectview import ProjectView, project_view
from rennet.service.search import MAX_HITS, readable_sources, search_projects
from rennet.storage.maintenance import CatalogMaintenance, IndexCounts
from rennet.web.context import registry
from rennet.web.ui.render import page
from rennet.web.ui.sessions import load_viewer

__all__ = ["home", "index_page", "page_number", "project", "search", "ui_error"]

COUNTS_SECONDS = 60.0  # the counts scan the files table: asked at most once a minute per worker
RECENT = 20
PROJECTS_PER_PAGE = 100
_URL_SCHEMES = ("http", "https")


def ui_error(request: Request, status: int, message: str) -> Response:
    titles = {400: "Bad request", 401: "Log in", 403: "Forbidden", 404: "Not found"}
    context = {"status": status, "title": titles.get(status, "Unavailable"), "message": message}
    return page(request, "error.html", context | {"here": request.url.path}, status)


async def home(request: Request) -> Response:
    viewer = await load_viewer(request)
    indexes = _readable(request, viewer)
    counts = await _counts(request)
    rows = [
        {
            "name": index.name,
            "kind": index.kind.value,
            "private": index.private,
            "projects": _count(index, counts, "projects"),
            "files": _count(index, counts, "files"),
        }
        for index in indexes
    ]
    hosted = [index.name for index in indexes if isinstance(index, HostedIndex)]
    uploads = await _uploads(request, hosted, 10)
    base = str(request.base_url).rstrip("/")
    context = {"version": __version__, "base": base, "indexes": rows, "uploads": uploads}
    return page(request, "home.html", context | {"default": registry(request).settings.default_index})


def _readable(request: Request, viewer: Identity | None) -> list[IndexConfig]:
    return [
        service.config
        for service in registry(request).indexes.values()
        if allowed(viewer, service.config, Access.READ)
    ]


async def _counts(request: Request) -> dict[str, IndexCounts]:
    held: tuple[float, dict[str, IndexCounts]] | None = getattr(request.app.state, "ui_counts", None)
    if held is not None and held[0] > time.monotonic():
        return held[1]
    shared = registry(request).shared
    try:
        counts = await shared.db(CatalogMaintenance(shared.catalog.engine).index_counts)
    except ServiceError:
        return held[1] if held is not None else {}
    request.app.state.ui_counts = (time.monotonic() + COUNTS_SECONDS, counts)
    return counts


def _count(index: IndexConfig, counts: dict[str, IndexCounts], field: str) -> int | None:
    if isinstance(index, GroupIndex):
        return None  # members may share projects: a sum would mislead
    found = counts.get(index.name)
    return int(getattr(found, field)) if found is not None else 0


async def _uploads(request: Request, indexes: list[str], limit: int) -> list[Any]:
    if not indexes:
        return []
    shared = registry(request).shared
    return await shared.db(shared.catalog.recent_uploads, indexes, limit)


async def search(request: Request) -> Response:
    viewer = await load_viewer(request)
    text = request.query_params.get("q", "").strip()
    configs = [service.config for service in registry(request).indexes.values()]
    hits = await search_projects(registry(request).shared, configs, viewer, text) if text else []
    return page(request, "search.html", {"query": text, "hits": hits, "limit": MAX_HITS})


async def index_page(request: Request) -> Response:
    """An index: its projects in name order, a page at a time, and the latest uploads to it (for a group, to its
    hosted members the viewer may read)."""
    viewer = await load_viewer(request)
    service = await _readable_index(request, viewer)
    if isinstance(service, Response):
        return service
    indexes = registry(request).settings.indexes
    config = service.config
    members = [indexes[name] for name in leaf_members(indexes, service.name)]
    hosted = [name for name in readable_sources(members, viewer) if isinstance(indexes[name], HostedIndex)]
    after = request.query_params.get("after", "")[:200]
    found: list[SearchHit] = []
    if not isinstance(config, GroupIndex):
        shared = registry(request).shared
        found = await shared.db(shared.catalog.projects_after, service.name, after, PROJECTS_PER_PAGE + 1)
    context = {
        "index": service.name,
        "kind": config.kind.value,
        "private": config.private,
        "members": config.members if isinstance(config, GroupIndex) else (),
        "show_uploads": bool(hosted),
        "uploads": await _uploads(request, hosted, RECENT),
        "show_projects": not isinstance(config, GroupIndex),
        "projects": found[:PROJECTS_PER_PAGE],
        "next": found[PROJECTS_PER_PAGE - 1].name if len(found) > PROJECTS_PER_PAGE else None,
    }
    return page(request, "index.html", context)


async def _readable_index(request: Request, viewer: Identity | None) -> IndexService | Response:
    name = request.path_params["index"]
    service = registry(request).indexes.get(name)
    if service is None:
        return ui_error(request, 404, f"there is no index named {name[:64]!r}")
    if not allowed(viewer, service.config, Access.READ):
        # As the API: nothing says more than that the index is private.
        if viewer is None:
            return ui_error(request, 401, f"{name} is private: log in to read it")
        return ui_error(request, 403, f"user {viewer.user!r} may not read {name}")
    return service


async def project(request: Request) -> Response:
    viewer = await load_viewer(request)
    service = await _readable_index(request, viewer)
    if isinstance(service, Response):
        return service
    try:
        name = check_project_name(request.path_params["project"])
    except InvalidName as error:
        return ui_error(request, 400, str(error))
    number = page_number(request.query_params.get("page", "1"))
    if number is None:
        return ui_error(request, 400, "the page number is a whole number, 1 or more (?page=2)")
    root = str(request.base_url)
    try:
        view = await project_view(registry(request).shared, service, name, root, number)
    except NotFound as error:
        return ui_error(request, 404, error.message)
    except ServiceError as error:
        return ui_error(request, error.status, error.message)
    return page(request, "project.html", _project_context(request, service, view, viewer))


def page_number(text: str) -> int | None:
    """A page number from a URL (1, 2, ...); None for anything else."""
    text = text.strip()
    if not text.isascii() or not text.isdecimal() or len(text) > 9 or int(text) < 1:
        return None
    return int(text)


def _project_context(
    request: Request, service: IndexService, view: ProjectView, viewer: Identity | None
) -> dict[str, Any]:
    info = view.info
    display = info.get("name") if isinstance(info.get("name"), str) else view.name
    readme = render_description(_text(info.get("description")), _text(info.get("description_content_type")))
    config = service.config
    return {
        "view": view,
        "info": info,
        "display_name": display,
        "kind": config.kind.value,
        "private": config.private,
        "readme": Markup(readme) if readme else None,  # noqa: S704 - sanitized by readme-renderer (nh3)
        "urls": _project_urls(info),
        "commands": _install_commands(request, service.name, display or view.name),
        "shadowed": _shadowed(request, service, view),
        "manage": _manageable(request, service, view, viewer),
        "statuses": ["active", "archived", "deprecated", "quarantined"],
        "message": request.query_params.get("done", "")[:300],
    }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _project_urls(info: dict[str, Any]) -> list[tuple[str, str]]:
    """Links from the metadata, http and https only: a javascript: or data: URL would run in the page."""
    found: list[tuple[str, str]] = []
    urls = info.get("project_urls")
    if isinstance(urls, dict):
        found += [(str(label)[:100], url) for label, url in urls.items() if isinstance(url, str)]
    if isinstance(info.get("home_page"), str):
        found.append(("Homepage", info["home_page"]))
    return [(label, url) for label, url in found if _web_url(url)][:30]


def _web_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in _URL_SCHEMES and bool(parts.netloc)


def _install_commands(request: Request, index: str, project: str) -> list[tuple[str, str]]:
    default = registry(request).settings.default_index
    url = f"{str(request.base_url).rstrip('/')}/{'' if index == default else index + '/'}simple/"
    return [
        ("pip", f"pip install --index-url {url} {project}"),
        ("uv", f"uv pip install --index-url {url} {project}"),
        ("poetry", f"poetry source add --priority=primary rennet {url} && poetry add --source rennet {project}"),
    ]


def _shadowed(request: Request, service: IndexService, view: ProjectView) -> list[str]:
    """The members of a group that the group's rule leaves out for this project (a hosted member has it)."""
    config = service.config
    if not isinstance(config, GroupIndex) or view.name in config.allow_upstream:
        return []
    indexes = registry(request).settings.indexes
    hosted_serves = any(isinstance(indexes[source], HostedIndex) for source in view.sources)
    leaves = leaf_members(indexes, config.name)
    return [name for name in leaves if hosted_serves and not isinstance(indexes[name], HostedIndex)]


def _manageable(request: Request, service: IndexService, view: ProjectView, viewer: Identity | None) -> str | None:
    """The hosted index whose releases the viewer may manage from this page: admins, in a hosted index."""
    config = service.config
    if viewer is None or not viewer.admin or not isinstance(config, HostedIndex):
        return None
    return config.name if allowed(viewer, config, Access.UPLOAD) else None
