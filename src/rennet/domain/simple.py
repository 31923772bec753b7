"""Rendering the Simple Repository API (PEP 503 HTML, PEP 691 JSON) at api-version 1.4.

File URLs are relative: `prefix` leads from the page to the server root, so the same page works behind a reverse
proxy mounted at any path. A file lives at `<index>/files/<project>/<filename>` under that root; in a static copy
(`static`, written by `rennet export`) the tree holds one index, and a file lives at `files/<project>/<filename>`.
A file with provenance (PEP 740) names rennet's own Integrity API beside it, never the upstream's, by a fully
qualified URL as PEP 740 asks (pypi-simple refuses a page whose JSON names a relative one): `origin` is the
server root's absolute URL. A static copy has no Integrity API and names none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from rennet.domain.files import DistFile, ProjectPage, best_hash
from rennet.domain.names import canonical_name
from rennet.domain.provenance import provenance_path

__all__ = [
    "API_VERSION",
    "file_path",
    "format_upload_time",
    "names_provenance",
    "render_project_html",
    "render_project_json",
    "root_html_chunks",
    "root_json_chunks",
]

API_VERSION = "1.4"

_HTML_HEAD = '<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.4">\n'


def file_path(index: str | None, project: str, filename: str) -> str:
    """Path of a file below the server root, percent-encoded (local versions contain '+'); no index: static."""
    folder = "files" if index is None else f"{index}/files"
    return f"{folder}/{project}/{quote(filename, safe='')}"


def format_upload_time(moment: datetime) -> str:
    """PEP 700: yyyy-mm-ddThh:mm:ss[.ffffff]Z in UTC."""
    moment = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    # isoformat, not strftime: glibc's %Y drops the leading zeros of years before 1000.
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds") + "Z"


def render_project_html(
    page: ProjectPage, prefix: str, via: str | None = None, *, static: bool = False, origin: str = ""
) -> bytes:
    """`via` names the index whose URLs the files get (a group serves its members' files itself)."""
    name = escape(page.name)
    parts = [_HTML_HEAD]
    if page.status is not None:
        parts.append(f'    <meta name="pypi:project-status" content="{escape(page.status.value)}">\n')
        if page.status_reason:
            parts.append(f'    <meta name="pypi:project-status-reason" content="{escape(page.status_reason)}">\n')
    parts.append(f"    <title>Links for {name}</title>\n  </head>\n  <body>\n    <h1>Links for {name}</h1>\n")
    for file in page.listed_files:
        parts.append(_html_link(page.name, file, prefix, _url_index(file, via, static), origin))
    parts.append("  </body>\n</html>\n")
    return "".join(parts).encode()


def _url_index(file: DistFile, via: str | None, static: bool) -> str | None:
    return None if static else via or file.index


def _html_link(project: str, file: DistFile, prefix: str, index: str | None, origin: str) -> str:
    href = prefix + file_path(index, project, file.filename)
    if chosen := best_hash(file.hashes):
        href += f"#{chosen[0]}={chosen[1]}"
    attrs = [f'href="{escape(href)}"']
    if file.requires_python:
        attrs.append(f'data-requires-python="{escape(file.requires_python)}"')
    if file.yanked:
        attrs.append(f'data-yanked="{escape(file.yanked_reason or "")}"')
    if file.core_metadata is not None:
        chosen = best_hash(file.core_metadata)
        value = escape(f"{chosen[0]}={chosen[1]}") if chosen else "true"
        attrs.append(f'data-core-metadata="{value}" data-dist-info-metadata="{value}"')
    if (provenance := _provenance_url(project, file, origin or prefix, index)) is not None:
        attrs.append(f'data-provenance="{escape(provenance)}"')
    return f"    <a {' '.join(attrs)}>{escape(file.filename)}</a><br>\n"


def render_project_json(
    page: ProjectPage, prefix: str, via: str | None = None, *, static: bool = False, origin: str = ""
) -> bytes:
    files = [_json_file(page.name, file, prefix, _url_index(file, via, static), origin) for file in page.listed_files]
    data: dict[str, Any] = {
        "meta": {"api-version": API_VERSION},
        "name": page.name,
        "files": files,
        "versions": list(page.all_versions),
    }
    if page.status is not None:
        status: dict[str, str] = {"status": page.status.value}
        if page.status_reason:
            status["reason"] = page.status_reason
        data["project-status"] = status
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _json_file(project: str, file: DistFile, prefix: str, index: str | None, origin: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": file.filename,
        "url": prefix + file_path(index, project, file.filename),
        "hashes": dict(file.hashes),
        "requires-python": file.requires_python,
        "yanked": (file.yanked_reason or True) if file.yanked else False,
        # Never the key "dist-info-metadata": a range of pip versions fails on it.
        "core-metadata": dict(file.core_metadata) or True if file.core_metadata is not None else False,
    }
    if file.size is not None:
        entry["size"] = file.size
    if file.upload_time is not None:
        entry["upload-time"] = format_upload_time(file.upload_time)
    if (provenance := _provenance_url(project, file, origin or prefix, index)) is not None:
        entry["provenance"] = provenance
    return entry


def _provenance_url(project: str, file: DistFile, root: str, index: str | None) -> str | None:
    if index is None or not file.has_provenance:
        return None
    path = provenance_path(index, project, file.filename)
    return root + path if path is not None else None


def names_provenance(page: ProjectPage) -> bool:
    """Whether the page's rendering depends on the server's absolute URL (a file names its provenance)."""
    return any(file.has_provenance for file in page.listed_files)


def root_html_chunks(names: Iterable[str]) -> Iterator[str]:
    """The project list, in pieces, so that a list of 700k names is written without being held at once."""
    yield _HTML_HEAD + "    <title>Simple index</title>\n  </head>\n  <body>\n"
    for name in names:
        # Names may come from an upstream's list: quote them so that none can break out of the attribute.
        yield f'    <a href="{quote(canonical_name(name), safe="")}/">{escape(name)}</a>\n'
    yield "  </body>\n</html>\n"


def root_json_chunks(names: Iterable[str]) -> Iterator[str]:
    yield '{"meta":{"api-version":"1.4"},"projects":['
    separator = ""
    for name in names:
        yield separator + json.dumps({"name": name}, ensure_ascii=False)
        separator = ","
    yield "]}"
