"""Reading simple pages the way installers do: anchors with their attributes, meta tags, and JSON walks."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from tests.support.server import Server

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
UV_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.2, text/html; q=0.01"
POETRY_ACCEPT = "application/vnd.pypi.simple.v1+json, */*;q=0.1"


@dataclass
class Anchor:
    text: str
    attrs: dict[str, str | None]

    @property
    def href(self) -> str:
        return self.attrs.get("href") or ""


@dataclass
class HtmlPage:
    anchors: list[Anchor] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)

    def anchor(self, text: str) -> Anchor:
        found = [a for a in self.anchors if a.text == text]
        assert len(found) == 1, f"{text!r} appears {len(found)} times in {[a.text for a in self.anchors]}"
        return found[0]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = HtmlPage()
        self._open: Anchor | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a":
            self._open = Anchor("", values)
        elif tag == "meta" and values.get("name"):
            self.page.meta[str(values["name"])] = values.get("content") or ""

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.page.anchors.append(self._open)
            self._open = None


def parse_html(text: str) -> HtmlPage:
    parser = _Parser()
    parser.feed(text)
    parser.close()
    return parser.page


def absolute(page_url: str, href: str) -> str:
    return urljoin(page_url, href)


def all_keys(value: Any) -> set[str]:
    """Every dictionary key anywhere inside a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in all_keys(v)}
    return set()


def json_files(server: Server, path: str) -> dict[str, dict[str, Any]]:
    """filename -> file entry of the JSON project page at `path`."""
    response = server.get(path, headers={"accept": JSON_V1})
    assert response.status_code == 200, response.text
    return {entry["filename"]: entry for entry in response.json()["files"]}
