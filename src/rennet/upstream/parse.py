"""Reading upstream pages (PEP 691 JSON or PEP 503 HTML) into domain pages, distrusting every field."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin

from rennet.domain.files import DistFile, ProjectPage, ProjectStatus
from rennet.domain.names import InvalidName, NormalizedName, check_filename, check_project_name
from rennet.upstream.urls import redact

__all__ = ["UnreadablePage", "iter_listing_entries", "iter_listing_names", "parse_project_page"]

log = logging.getLogger("rennet.upstream")

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("text/html", "application/vnd.pypi.simple.v1+html")
_WEB_SCHEMES = ("http://", "https://")
_HEX = re.compile(r"^[0-9a-f]+$")
_HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}


class UnreadablePage(ValueError):
    """The upstream answered with something that is not a simple page."""


def parse_project_page(
    body: bytes, content_type: str, url: str, name: NormalizedName, index: str, seen: datetime | None = None
) -> ProjectPage:
    """The page's files, each first seen at `seen` (when the catalog lists a file for the first time, it records
    the time of the fetch)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    try:
        if media_type == JSON_TYPE or media_type.endswith("+json"):
            parsed = _from_json(body, url, index, seen)
        elif media_type in HTML_TYPES or not media_type:
            parsed = _from_html(body, url, name, _charset(content_type), index, seen)
        else:
            raise UnreadablePage(f"unexpected content type {media_type!r}")
    except UnreadablePage:
        raise
    except Exception as error:  # pypi-simple raises many kinds on garbage
        raise UnreadablePage(f"unreadable project page: {type(error).__name__}: {str(error)[:200]}") from None
    files: dict[str, DistFile] = {}
    for file in parsed.files:
        files.setdefault(file.filename, file)
    status = _status(parsed.status)
    return ProjectPage(
        name=name,
        files=tuple(files.values()),
        versions=tuple(v[:128] for v in (parsed.versions or ()) if isinstance(v, str)),
        status=status,
        status_reason=parsed.status_reason if status and isinstance(parsed.status_reason, str) else None,
    )


@dataclass(slots=True)
class _Parsed:
    files: list[DistFile]
    versions: list[str] | None
    status: Any
    status_reason: Any


# -- PEP 691 JSON, read here: pypi-simple's pydantic models took 8 ms for a 200-file page and, with requests and
# bs4, 15 MiB of every worker (docs/benchmarks.md); it still reads HTML pages. ------------------------------------


class _BadField(ValueError):
    """One field of one file entry is not what PEP 691 allows: the entry is skipped."""


def _from_json(body: bytes, url: str, index: str, seen: datetime | None) -> _Parsed:
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise UnreadablePage("JSON page without a list of files")
    _check_api_version(data.get("meta"))
    if not isinstance(data.get("name"), str):
        raise UnreadablePage("JSON page without a project name")
    skipped = _Skipped(url)
    join = _Joiner(url)
    files = []
    for entry in data["files"]:
        try:
            file = _json_file(entry, join, index, seen)
        except _BadField as error:
            skipped.add(entry.get("filename") if isinstance(entry, dict) else None, error)
            continue
        if file is not None:
            files.append(file)
    skipped.report()
    versions = data.get("versions")
    status = data.get("project-status")
    status = status if isinstance(status, dict) else {}
    return _Parsed(
        files,
        [version for version in versions if isinstance(version, str)] if isinstance(versions, list) else None,
        status.get("status"),
        status.get("reason"),
    )


def _check_api_version(meta: object) -> None:
    version = meta.get("api-version") if isinstance(meta, dict) else None
    if not isinstance(version, str):
        raise UnreadablePage("JSON page without meta.api-version")
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) > 1:
        raise UnreadablePage(f"JSON page of an unsupported API version {version[:20]!r}")


class _Joiner:
    """urljoin for a page's file URLs, which share a few directories: each directory is joined once."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.directories: dict[str, str] = {}

    def __call__(self, url: str) -> str:
        directory, slash, name = url.rpartition("/")
        if not slash or name in ("", ".", ".."):
            return urljoin(self.base, url)
        joined = self.directories.get(directory)
        if joined is None:
            joined = self.directories[directory] = urljoin(self.base, directory + "/")
        return joined + name


def _json_file(entry: object, join: _Joiner, index: str, seen: datetime | None) -> DistFile | None:
    if not isinstance(entry, dict):
        raise _BadField("not a table")
    filename, url, hashes = entry.get("filename"), entry.get("url"), entry.get("hashes")
    if not isinstance(filename, str) or not isinstance(url, str):
        raise _BadField("filename and url must be strings")
    if not isinstance(hashes, dict) or not all(isinstance(v, str) for v in hashes.values()):
        raise _BadField("hashes must be a table of strings")
    # Servers from before PEP 714 used this key; read it as core-metadata.
    core = entry["core-metadata"] if "core-metadata" in entry else entry.get("dist-info-metadata")
    if core is not None and not isinstance(core, bool) and not _string_table(core):
        raise _BadField("core-metadata must be true, false or a table of hashes")
    yanked = entry.get("yanked", False)
    if not isinstance(yanked, bool | str):
        raise _BadField("yanked must be a boolean or a reason")
    requires_python = entry.get("requires-python")
    if requires_python is not None and not isinstance(requires_python, str):
        raise _BadField("requires-python must be a string")
    return _dist_file(
        filename=filename,
        url=join(url),
        index=index,
        digests=hashes,
        requires_python=requires_python,
        yanked=yanked is True or isinstance(yanked, str),
        yanked_reason=yanked if isinstance(yanked, str) else None,
        size=_size(entry.get("size")),
        upload_time=_upload_time(entry.get("upload-time")),
        core_metadata=(core if isinstance(core, dict) else {}) if core else None,
        provenance=join(provenance) if isinstance(provenance := entry.get("provenance"), str) else None,
        seen=seen,
    )


def _string_table(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _size(value: object) -> int | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _BadField("size must be a whole number")
    return value if value is None or value >= 0 else None


def _upload_time(value: object) -> datetime | None:
    try:
        if value is None:
            return None
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise _BadField("upload-time must be an ISO 8601 time")


def _from_html(body: bytes, url: str, name: str, charset: str | None, index: str, seen: datetime | None) -> _Parsed:
    from pypi_simple import DistributionPackage, RepositoryPage

    repository = RepositoryPage.from_html(body, url, charset)
    skipped = _Skipped(url)
    files = []
    for link in repository.links:
        try:
            package = DistributionPackage.from_link(link, name)
        except Exception as error:
            skipped.add(link.text, error)
            continue
        has_metadata, metadata_digests = package.has_metadata, package.metadata_digests
        legacy = link.get_str_attrib("data-dist-info-metadata")
        if has_metadata is None and legacy is not None:
            has_metadata = legacy.lower() != "false"
            algorithm, _, value = legacy.partition("=")
            metadata_digests = {algorithm: value} if value else {}
        file = _dist_file(
            filename=package.filename,
            url=package.url,
            index=index,
            digests=package.digests,
            requires_python=package.requires_python,
            yanked=package.is_yanked,
            yanked_reason=package.yanked_reason,
            size=None,
            upload_time=None,
            core_metadata=(metadata_digests or {}) if has_metadata else None,
            provenance=package.provenance_url,
            seen=seen,
        )
        if file is not None:
            files.append(file)
    skipped.report()
    return _Parsed(files, None, repository.status, repository.status_reason)


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


def _dist_file(
    *,
    filename: str,
    url: str,
    index: str,
    digests: dict[str, Any],
    requires_python: str | None,
    yanked: bool,
    yanked_reason: str | None,
    size: int | None,
    upload_time: datetime | None,
    core_metadata: dict[str, Any] | None,
    provenance: object,
    seen: datetime | None,
) -> DistFile | None:
    try:
        filename = check_filename(filename.strip())
    except InvalidName as error:
        log.warning("ignoring upstream file: %s", error)
        return None
    if not url[:8].lower().startswith(_WEB_SCHEMES):
        log.warning("ignoring upstream file %r: its URL is not http(s)", filename)
        return None
    if not isinstance(provenance, str) or not provenance[:8].lower().startswith(_WEB_SCHEMES):
        provenance = None
    return DistFile(
        filename=filename,
        index=index,
        hashes=_hashes(digests),
        requires_python=(requires_python or "").strip()[:1000] or None,
        yanked=yanked,
        yanked_reason=(yanked_reason or None) if yanked else None,
        size=size,
        upload_time=upload_time,
        core_metadata=_hashes(core_metadata) if core_metadata is not None else None,
        provenance=provenance,
        source_url=url,
        first_seen=seen,
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
