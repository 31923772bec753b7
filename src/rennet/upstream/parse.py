"""Reading upstream pages (PEP 691 JSON or PEP 503 HTML) into domain pages, distrusting every field."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from pypi_simple import DistributionPackage, RepositoryPage
from pypi_simple import ProjectPage as UpstreamProjectPage

from rennet.domain.files import DistFile, ProjectPage, ProjectStatus
from rennet.domain.names import InvalidName, NormalizedName, check_filename, check_project_name
from rennet.upstream.urls import redact

__all__ = ["UnreadablePage", "iter_listing_entries", "iter_listing_names", "parse_project_page"]

log = logging.getLogger("rennet.upstream")

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("text/html", "application/vnd.pypi.simple.v1+html")
_HEX = re.compile(r"^[0-9a-f]+$")
_HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}


class UnreadablePage(ValueError):
    """The upstream answered with something that is not a simple page."""


def parse_project_page(body: bytes, content_type: str, url: str, name: NormalizedName, index: str) -> ProjectPage:
    media_type = content_type.split(";", 1)[0].strip().lower()
    try:
        if media_type == JSON_TYPE or media_type.endswith("+json"):
            parsed = _from_json(body, url)
        elif media_type in HTML_TYPES or not media_type:
            parsed = _from_html(body, url, name, _charset(content_type))
        else:
            raise UnreadablePage(f"unexpected content type {media_type!r}")
    except UnreadablePage:
        raise
    except Exception as error:  # pypi-simple and pydantic raise many kinds on garbage
        raise UnreadablePage(f"unreadable project page: {type(error).__name__}: {str(error)[:200]}") from None
    files: dict[str, DistFile] = {}
    for package in parsed.packages:
        file = _dist_file(package, index)
        if file is not None:
            files.setdefault(file.filename, file)
    status = _status(parsed.status)
    return ProjectPage(
        name=name,
        files=tuple(files.values()),
        versions=tuple(v[:128] for v in (parsed.versions or ()) if isinstance(v, str)),
        status=status,
        status_reason=parsed.status_reason if status else None,
    )


@dataclass(slots=True)
class _Parsed:
    packages: list[DistributionPackage]
    versions: list[str] | None
    status: Any
    status_reason: str | None


def _from_json(body: bytes, url: str) -> _Parsed:
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise UnreadablePage("JSON page without a list of files")
    # The page's frame is read first, the files one by one: one malformed entry costs that entry, not the page.
    entries, data["files"] = data["files"], []
    if "versions" in data and isinstance(data["versions"], list):
        data["versions"] = [version for version in data["versions"] if isinstance(version, str)]
    if not isinstance(data.get("project-status", {}), dict):
        del data["project-status"]
    page = UpstreamProjectPage.from_json_data(data, url)
    skipped = _Skipped(url)
    packages = []
    for entry in entries:
        # Servers from before PEP 714 used this key; read it as core-metadata.
        if isinstance(entry, dict) and "core-metadata" not in entry and "dist-info-metadata" in entry:
            entry["core-metadata"] = entry.pop("dist-info-metadata")
        try:
            packages.append(DistributionPackage.from_json_data(entry, page.project, url))
        except Exception as error:  # pydantic and pypi-simple raise many kinds on a bad field
            skipped.add(entry.get("filename") if isinstance(entry, dict) else None, error)
    skipped.report()
    return _Parsed(packages, page.versions, page.status, page.status_reason)


def _from_html(body: bytes, url: str, name: str, charset: str | None) -> _Parsed:
    repository = RepositoryPage.from_html(body, url, charset)
    skipped = _Skipped(url)
    packages = []
    for link in repository.links:
        try:
            package = DistributionPackage.from_link(link, name)
        except Exception as error:
            skipped.add(link.text, error)
            continue
        legacy = link.get_str_attrib("data-dist-info-metadata")
        if package.has_metadata is None and legacy is not None:
            package.has_metadata = legacy.lower() != "false"
            algorithm, _, value = legacy.partition("=")
            package.metadata_digests = {algorithm: value} if value else {}
        packages.append(package)
    skipped.report()
    return _Parsed(packages, None, repository.status, repository.status_reason)


class _Skipped:
    """Malformed entries of one page: left out, and named in the log (the first few, then a count)."""

    SHOWN = 3

    def __init__(self, url: str) -> None:
        self.url = url
        self.count = 0

    def add(self, filename: object, error: Exception) -> None:
        self.count += 1
        if self.count <= self.SHOWN:
            name = repr(filename)[:120] if isinstance(filename, str) else "an entry"
            reason = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
            log.warning("skipping %s of the upstream page %s: %s", name, redact(self.url), reason)

    def report(self) -> None:
        if self.count > self.SHOWN:
            log.warning("skipped %d malformed entries of %s in all", self.count, redact(self.url))


def _dist_file(package: DistributionPackage, index: str) -> DistFile | None:
    try:
        filename = check_filename(package.filename.strip())
    except InvalidName as error:
        log.warning("ignoring upstream file: %s", error)
        return None
    if urlsplit(package.url).scheme not in ("http", "https"):
        log.warning("ignoring upstream file %r: its URL is not http(s)", filename)
        return None
    core_metadata = None
    if package.has_metadata:
        core_metadata = _hashes(package.metadata_digests or {})
    provenance = package.provenance_url
    if provenance and urlsplit(provenance).scheme not in ("http", "https"):
        provenance = None
    size = package.size if isinstance(package.size, int) and package.size >= 0 else None
    return DistFile(
        filename=filename,
        index=index,
        hashes=_hashes(package.digests),
        requires_python=(package.requires_python or "").strip()[:1000] or None,
        yanked=package.is_yanked,
        yanked_reason=(package.yanked_reason or None) if package.is_yanked else None,
        size=size,
        upload_time=package.upload_time,
        core_metadata=core_metadata,
        provenance=provenance,
        source_url=package.url,
    )


def _hashes(digests: dict[str, Any]) -> dict[str, str]:
    """Keep well-formed hex digests of known algorithms only."""
    result = {}
    for algorithm, value in digests.items():
        algorithm, value = str(algorithm).lower(), str(value).lower()
        if _HASH_LENGTHS.get(algorithm) == len(value) and _HEX.match(value):
            result[algorithm] = value
    return result


def _status(value: Any) -> ProjectStatus | None:
    text = getattr(value, "value", value)
    try:
        return ProjectStatus(str(text)) if text else None
    except ValueError:
        return None


def _charset(content_type: str) -> str | None:
    match = re.search(r"charset=([\w-]+)", content_type, re.IGNORECASE)
    return match[1] if match else None


# -- the project list ----------------------------------------------------------------------------------------------

_JSON_NAME = re.compile(rb'"name"\s*:\s*"((?:[^"\\]|\\.){1,400})"')
_HTML_ANCHOR = re.compile(rb"<a\b[^>]*>([^<]{1,400})</a\s*>", re.IGNORECASE)
_CHUNK = 1 << 20


def iter_listing_names(path: Path, content_type: str) -> Iterator[str]:
    """Project names from a downloaded root page, read in chunks: a 700k-name list is never held whole."""
    is_json = "json" in content_type.lower()
    pattern = _JSON_NAME if is_json else _HTML_ANCHOR
    with path.open("rb") as stream:
        for raw in _scan(stream, pattern):
            try:
                text = json.loads(b'"' + raw + b'"') if is_json else html.unescape(raw.decode()).strip()
                check_project_name(text)
            except (ValueError, InvalidName):
                continue
            yield text


_JSON_PROJECT = re.compile(rb"(\{[^{}]{1,2000}\})")
_JSON_SERIAL = re.compile(rb'"_last-serial"\s*:\s*(\d{1,18})\b')


def iter_listing_entries(path: Path, content_type: str) -> Iterator[tuple[str, int | None]]:
    """(name, serial) of each project of a downloaded root page, read in chunks. PEP 691 JSON from PyPI carries
    each project's `_last-serial`; other upstreams (and every HTML root) give None."""
    if "json" not in content_type.lower():
        yield from ((name, None) for name in iter_listing_names(path, content_type))
        return
    with path.open("rb") as stream:
        for entry in _scan(stream, _JSON_PROJECT):
            found = _JSON_NAME.search(entry)
            if found is None:
                continue  # the "meta" object
            try:
                name = json.loads(b'"' + found[1] + b'"')
                check_project_name(name)
            except (ValueError, InvalidName):
                continue
            serial = _JSON_SERIAL.search(entry)
            yield name, int(serial[1]) if serial else None


def _scan(stream: BinaryIO, pattern: re.Pattern[bytes]) -> Iterator[bytes]:
    buffer = b""
    while chunk := stream.read(_CHUNK):
        buffer += chunk
        end = 0
        for match in pattern.finditer(buffer):
            yield match[1]
            end = match.end()
        # Keep the unmatched tail: a match may straddle two chunks.
        buffer = buffer[max(end, len(buffer) - 4096) :]
