"""Project names and distribution filenames (PEP 503, PEP 508, PEP 427, PEP 625)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

__all__ = [
    "DistName",
    "InvalidName",
    "NormalizedName",
    "canonical_name",
    "check_filename",
    "check_project_name",
    "file_identity",
    "parse_dist_filename",
    "release_key",
    "same_version",
    "version_or_none",
]

MAX_NAME_LENGTH = 200
MAX_FILENAME_LENGTH = 255

_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar", ".tar.xz")
_LEGACY_SUFFIXES = (".egg", ".exe", ".msi", ".rpm", ".dmg")


class InvalidName(ValueError):
    """A project name or filename that rennet refuses, with a message a person understands."""


def canonical_name(name: str) -> NormalizedName:
    return canonicalize_name(name)


@lru_cache(maxsize=8192)  # the same few names arrive thousands of times a minute; errors are not cached
def check_project_name(name: str) -> NormalizedName:
    """Return the normalized form of a valid project name (PEP 508), or raise InvalidName."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"project names are 1 to {MAX_NAME_LENGTH} characters long")
    if not _is_project_name(name):
        raise InvalidName(
            f"{name[:80]!r} is not a valid project name: use ASCII letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit"
        )
    return canonicalize_name(name)


def _is_project_name(name: str) -> bool:
    # fullmatch: `$` alone would let a trailing newline through; isascii: IGNORECASE folds the Kelvin sign to "k".
    return name.isascii() and _PROJECT_NAME.fullmatch(name) is not None


def check_filename(filename: str) -> str:
    """Return filename if it is a plain file name that is safe to serve and store, else raise InvalidName.

    Upstream pages and uploads are untrusted: refuse anything that could name a path.
    """
    if not filename or len(filename) > MAX_FILENAME_LENGTH:
        raise InvalidName(f"file names are 1 to {MAX_FILENAME_LENGTH} characters long")
    if "/" in filename or "\\" in filename:
        raise InvalidName(f"file name {filename[:80]!r} contains a path separator")
    if filename.startswith(".") or filename in {".", ".."}:
        raise InvalidName(f"file name {filename[:80]!r} starts with a dot")
    if filename.isascii() and filename.isprintable():
        # Nearly every name: no control characters and no white space but the plain space, checked at C speed.
        if filename != filename.strip():
            raise InvalidName(_SPACE_PROBLEM.format(filename[:80]))
        return filename
    if any(unicodedata.category(c).startswith("C") for c in filename):
        raise InvalidName(f"file name {filename[:80]!r} contains control or invisible characters")
    if filename != filename.strip() or any(c.isspace() and c != " " for c in filename):
        # A plain inner space occurs in old uploads; other spaces (no-break, line separator) only deceive.
        raise InvalidName(_SPACE_PROBLEM.format(filename[:80]))
    return filename


_SPACE_PROBLEM = "file name {!r} starts or ends with white space, or holds unusual white space"


DistKind = Literal["wheel", "sdist", "legacy"]


@dataclass(frozen=True, slots=True)
class DistName:
    """What a distribution filename says about itself."""

    project: NormalizedName
    version: Version | None
    kind: DistKind


@lru_cache(maxsize=8192)
def parse_dist_filename(filename: str) -> DistName | None:
    """Parse a wheel, sdist or legacy filename; None when it is none of those."""
    lowered = filename.lower()
    if lowered.endswith(".whl"):
        try:
            name, version, _, _ = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion):
            return None
        return DistName(name, version, "wheel")
    if lowered.endswith((".tar.gz", ".zip")):
        try:
            name, version = parse_sdist_filename(filename)
        except (InvalidSdistFilename, InvalidVersion):
            return _parse_legacy_sdist(filename)
        # packaging splits at the last '-' without judging the name: "../x-1.0.tar.gz" must not name a project.
        stem = filename[: filename.rindex("-")]
        return DistName(name, version, "sdist") if _is_project_name(stem) else None
    if lowered.endswith(_SDIST_SUFFIXES):
        return _parse_legacy_sdist(filename)
    if lowered.endswith(_LEGACY_SUFFIXES):
        return _parse_legacy(filename)
    return None


def _strip_suffix(filename: str, suffixes: tuple[str, ...]) -> str:
    lowered = filename.lower()
    for suffix in suffixes:
        if lowered.endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def _parse_legacy_sdist(filename: str) -> DistName | None:
    """Old sdists used '-' inside names (foo-bar-1.0.tar.gz): the version starts with a digit and has no '-'."""
    match = re.fullmatch(r"(?P<name>.+?)-(?P<version>\d[^-]*)", _strip_suffix(filename, _SDIST_SUFFIXES))
    if not match or not _is_project_name(match["name"]):
        return None
    return DistName(canonicalize_name(match["name"]), version_or_none(match["version"]), "sdist")


# bdist_wininst and bdist_msi put the platform after the version: foo-1.0.win-amd64-py2.7.exe
_WININST_PLATFORM = re.compile(r"\.win(?:32|-amd64|-arm64)(?=-|$)", re.IGNORECASE)


def _parse_legacy(filename: str) -> DistName | None:
    """Eggs, installers and packages: name-version[-python[-platform]] before the suffix."""
    stem = _WININST_PLATFORM.sub("", _strip_suffix(filename, _LEGACY_SUFFIXES))
    match = re.fullmatch(r"(?P<name>.+?)-(?P<version>\d[^-]*)(?:-.*)?", stem)
    if not match or not _is_project_name(match["name"]):
        return None
    return DistName(canonicalize_name(match["name"]), version_or_none(match["version"]), "legacy")


def release_key(version: str | Version) -> str:
    """One spelling per release: "1.0", "1.0.0" and "1" are the same release, as installers compare them."""
    return canonicalize_version(version, strip_trailing_zero=True)


def file_identity(filename: str) -> str | None:
    """What a file is within its project, whatever the spelling of its name: a release has one sdist, and one wheel
    per set of tags (a build number does not make another wheel). None for legacy formats."""
    try:
        if filename.endswith(".whl"):
            _, version, _, tags = parse_wheel_filename(filename)
            return f"wheel {release_key(version)} {'.'.join(sorted(str(tag) for tag in tags))}"
        _, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return f"sdist {release_key(version)}"


def same_version(a: str | Version, b: str | Version) -> bool:
    """Whether two versions name one release: equal as PEP 440 versions ("1.0" and "1.0.0"), or, when one of them
    is not a PEP 440 version, equal once canonicalized."""
    first = a if isinstance(a, Version) else version_or_none(a)
    second = b if isinstance(b, Version) else version_or_none(b)
    if first is not None and second is not None:
        return first == second
    return release_key(str(a)) == release_key(str(b))


# Pages are parsed and rendered again after every change to their project, and a big project has thousands of
# files: the latest few thousand file names and version strings are remembered (small, immutable results).
@lru_cache(maxsize=8192)
def version_or_none(text: str) -> Version | None:
    """The version, or None when the text is not a PEP 440 version."""
    try:
        return Version(text)
    except InvalidVersion:
        return None
