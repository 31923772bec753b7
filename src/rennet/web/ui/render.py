"""Rendering the UI's pages: one Jinja2 environment (autoescaping every template), and the headers every page
carries. The Content-Security-Policy allows scripts and styles from rennet only, so that markup slipping through
a description could still run nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from rennet import __version__

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["SECURITY_HEADERS", "STATIC", "page"]

STATIC = Path(__file__).parent.parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Pages show what the viewer may read: no shared cache may keep them.
    "Cache-Control": "private, no-cache",
}


@cache
def _templates() -> Environment:
    # Imported on first use: the pages are for people, and Jinja2 would cost every worker memory at start.
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
        autoescape=select_autoescape(["html"]),
    )
    environment.filters["moment"] = _moment
    environment.filters["filesize"] = _filesize
    environment.globals["static"] = lambda name: f"/-/static/{name}?v={__version__}"
    return environment


def page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """The page, with the viewer (see sessions.py) and the form token every page's forms carry."""
    state = request.state
    values = {"viewer": getattr(state, "viewer", None), "csrf": getattr(state, "csrf", ""), "query": ""} | context
    body = _templates().get_template(template).render(values)
    return HTMLResponse(body, status, headers=SECURITY_HEADERS)


def _moment(value: datetime | float | None) -> str:
    if value is None:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _filesize(size: int | None) -> str:
    if size is None:
        return ""
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} B"
