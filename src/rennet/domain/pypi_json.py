"""PyPI's JSON API (`/pypi/<project>/json` and `/pypi/<project>/<version>/json`): the documents of hosted
projects, and an upstream's documents rewritten so that their files are fetched through rennet.

Renovate, pdm (opt-in), audit tools and mirrors read it. The release `info` describes is chosen as PyPI does:
the latest release that is neither yanked nor a pre-release, else the latest not yanked, else the latest.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from packaging.metadata import parse_email
from packaging.version import Version

from rennet.domain.files import DistFile
from rennet.domain.names import InvalidName, check_filename, parse_dist_filename, same_version, version_or_none
from rennet.domain.simple import file_path, format_upload_time

__all__ = [
    "Links",
    "ReleaseFile",
    "choose_release",
    "release_document",
    "releases_of",
    "rewrite_upstream",
    "upstream_json_url",
    "without_files",
]

_NO_DOWNLOADS = {"last_day": -1, "last_month": -1, "last_week": -1}  # PyPI stopped counting; clients expect it


@dataclass(frozen=True, slots=True)
class ReleaseFile:
    """A hosted file with what the JSON API reports beyond the Simple API."""

    file: DistFile
    version: str
    md5: str | None = None
    blake2b_256: str | None = None
    metadata_sha256: str | None = None  # the stored METADATA (wheel) or PKG-INFO (sdist)


@dataclass(frozen=True, slots=True)
class Links:
    """Absolute URLs below one index of this server; `root` is the server's base URL and ends with '/'."""

    root: str
    index: str

    def file(self, project: str, filename: str) -> str:
        return self.root + file_path(self.index, project, filename)

    def project(self, project: str) -> str:
        return f"{self.root}{self.index}/simple/{project}/"

    def release(self, project: str, version: str) -> str:
        return f"{self.root}{self.index}/pypi/{project}/{quote(version, safe='')}/json"


def releases_of(files: Iterable[ReleaseFile]) -> dict[str, list[ReleaseFile]]:
    """Files by release, releases in ascending version order."""
    releases: dict[str, list[ReleaseFile]] = {}
    for item in files:
        releases.setdefault(item.version, []).append(item)
    return {version: releases[version] for version in sorted(releases, key=_sort_key)}


def choose_release(releases: Mapping[str, Sequence[ReleaseFile]], wanted: str | None) -> str | None:
    """The release asked for (equal versions match: 1.0 is 1.0.0), or PyPI's choice of the latest one."""
    if wanted is not None:
        return next((version for version in releases if same_version(version, wanted)), None)

    def rank(version: str) -> tuple[bool, bool, tuple[int, Version, str]]:
        parsed = version_or_none(version)
        final = parsed is not None and not parsed.is_prerelease
        return (not _all_yanked(releases[version]), final, _sort_key(version))

    return max((v for v in releases if releases[v]), key=rank, default=None)


def release_document(
    project: str,
    releases: Mapping[str, Sequence[ReleaseFile]],
    version: str,
    metadata: bytes | None,
    serial: int,
    links: Links,
    with_releases: bool,
) -> dict[str, Any]:
    """The document of one release; `with_releases` adds every release's files (the project endpoint)."""
    document: dict[str, Any] = {
        "info": _info(project, version, releases[version], metadata, links),
        "last_serial": serial,
        "urls": [_file_entry(project, item, links) for item in releases[version]],
        "vulnerabilities": [],
    }
    if with_releases:
        document["releases"] = {
            v: [_file_entry(project, item, links) for item in files] for v, files in releases.items()
        }
    return document


def _info(
    project: str, version: str, files: Sequence[ReleaseFile], metadata: bytes | None, links: Links
) -> dict[str, Any]:
    """`info` from the release's core metadata; what the metadata lacks is null, as on PyPI."""
    raw: Mapping[str, Any] = parse_email(metadata)[0] if metadata else {}
    yanked = _all_yanked(files)
    return {
        "name": raw.get("name") or project,
        "version": version,
        "summary": raw.get("summary"),
        "description": raw.get("description"),
        "description_content_type": raw.get("description_content_type"),
        "author": raw.get("author"),
        "author_email": raw.get("author_email"),
        "maintainer": raw.get("maintainer"),
        "maintainer_email": raw.get("maintainer_email"),
        "license": raw.get("license"),
        "license_expression": raw.get("license_expression"),
        "license_files": raw.get("license_files"),
        "keywords": ",".join(raw["keywords"]) if raw.get("keywords") else None,
        "classifiers": list(raw.get("classifiers", [])),
        "platform": ", ".join(raw["platforms"]) if raw.get("platforms") else None,
        "home_page": raw.get("home_page"),
        "download_url": raw.get("download_url"),
        "project_urls": dict(raw["project_urls"]) if raw.get("project_urls") else None,
        "requires_dist": list(raw["requires_dist"]) if raw.get("requires_dist") else None,
        "requires_python": raw.get("requires_python") or _first(f.file.requires_python for f in files),
        "provides_extra": list(raw["provides_extra"]) if raw.get("provides_extra") else None,
        "dynamic": list(raw["dynamic"]) if raw.get("dynamic") else None,
        "yanked": yanked,
        "yanked_reason": _yanked_reason(files) if yanked else None,
        "package_url": links.project(project),
        "project_url": links.project(project),
        "release_url": links.release(project, version),
        "bugtrack_url": None,
        "docs_url": None,
        "downloads": dict(_NO_DOWNLOADS),
    }


def _file_entry(project: str, item: ReleaseFile, links: Links) -> dict[str, Any]:
    file = item.file
    parsed = parse_dist_filename(file.filename)
    wheel = parsed is not None and parsed.kind == "wheel"
    moment = file.upload_time
    return {
        "filename": file.filename,
        "packagetype": "bdist_wheel" if wheel else "sdist",
        # A wheel's python tag (py3, cp312, py2.py3), as twine sends it; sdists say "source".
        "python_version": file.filename.rsplit("-", 3)[1] if wheel else "source",
        "digests": {"md5": item.md5, "sha256": file.sha256, "blake2b_256": item.blake2b_256},
        "md5_digest": item.md5,
        "size": file.size,
        "upload_time": moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None,
        "upload_time_iso_8601": format_upload_time(moment) if moment else None,
        "url": links.file(project, file.filename),
        "requires_python": file.requires_python,
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason,
        "has_sig": False,
        "comment_text": "",
        "downloads": -1,
    }


def upstream_json_url(simple_url: str, project: str, version: str | None) -> str | None:
    """Where a PyPI-like upstream serves the JSON API: beside its simple index (.../simple/ -> .../pypi/...).

    None when the simple URL does not end in /simple/: such an upstream has no JSON API we could find.
    """
    base = simple_url.rstrip("/")
    if not base.endswith("/simple"):
        return None
    release = f"{quote(version, safe='')}/" if version is not None else ""
    return f"{base.removesuffix('simple')}pypi/{project}/{release}json"


def without_files(document: dict[str, Any], hidden: Collection[str]) -> dict[str, Any]:
    """The document without the files a policy hides: gone from `urls`, and from `releases`, where a release
    whose files are all hidden goes too (its `info` stays the upstream's: it may describe a hidden release)."""
    if not hidden:
        return document

    def kept(files: Any) -> list[Any]:
        return [f for f in files if not (isinstance(f, Mapping) and f.get("filename") in hidden)]

    result = dict(document, urls=kept(document.get("urls", [])))
    if isinstance(document.get("releases"), Mapping):
        releases = {version: kept(files) for version, files in document["releases"].items()}
        result["releases"] = {v: f for v, f in releases.items() if f or not document["releases"][v]}
    return result


def rewrite_upstream(document: Any, project: str, links: Links) -> dict[str, Any]:
    """An upstream's document with every file URL pointing at this server; ValueError when it is no document.

    Files named so that rennet would never serve them (a path, control characters) are left out.
    """
    if not isinstance(document, dict) or not isinstance(document.get("info"), dict):
        raise ValueError("the answer has no info object")
    result = dict(document)
    result["urls"] = _rewrite_files(document.get("urls", []), project, links)
    if "releases" in document:
        releases = document["releases"]
        if not isinstance(releases, dict):
            raise ValueError("releases is not an object")
        result["releases"] = {str(v): _rewrite_files(files, project, links) for v, files in releases.items()}
    return result


def _rewrite_files(files: Any, project: str, links: Links) -> list[dict[str, Any]]:
    if not isinstance(files, list):
        raise ValueError("a file list is not a list")
    rewritten = []
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            raise ValueError("a file has no filename")
        try:
            check_filename(entry["filename"])
        except InvalidName:
            continue
        rewritten.append(entry | {"url": links.file(project, entry["filename"])})
    return rewritten


def _yanked_reason(files: Sequence[ReleaseFile]) -> str | None:
    return _first(item.file.yanked_reason for item in files)


def _first(values: Iterable[str | None]) -> str | None:
    return next((value for value in values if value), None)


def _all_yanked(files: Sequence[ReleaseFile]) -> bool:
    return bool(files) and all(item.file.yanked for item in files)


def _sort_key(text: str) -> tuple[int, Version, str]:
    """Versions in order; anything unparsable (never from a hosted upload) before them."""
    parsed = version_or_none(text)
    return (1, parsed, text) if parsed is not None else (0, Version("0"), text)
