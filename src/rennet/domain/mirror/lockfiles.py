"""Lock files as lists of exact files to mirror: PEP 751 `pylock.toml` and uv's `uv.lock`.

A lock file already names every file with its digest, so there is nothing to choose, only to check. Only files
that come from an index can be mirrored: VCS checkouts, local directories, editables and direct URLs are errors
of their entry. A broken entry never hides the others; only a file that is not a lock file at all (bad TOML, an
unknown format version) raises InvalidLockfile.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.markers import Marker
from packaging.pylock import Package, PackageSdist, PackageWheel, Pylock, PylockValidationError
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from rennet.domain.mirror._lockentries import EntryProblem, checked_file, checked_project, checked_version
from rennet.domain.mirror._markers import marker_holds
from rennet.domain.mirror.targets import Target, marker_environments, requires_python_ok, wheel_matches
from rennet.domain.names import NormalizedName

__all__ = [
    "EntryError",
    "InvalidLockfile",
    "LockedFile",
    "LockedFiles",
    "read_pylock",
    "read_uv_lock",
    "select_for_targets",
]

_UV_SOURCES = {
    "git": "a git checkout",
    "path": "a local path",
    "directory": "a local directory",
    "url": "a direct URL",
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class InvalidLockfile(ValueError):
    """The text is not a lock file of the expected kind and version."""


@dataclass(frozen=True, slots=True)
class LockedFile:
    """One distribution file a lock file pins.

    `url` is where the locker found it (a hint: a mirror asks its own upstream for `filename`); `index` is the
    simple index the package came from when the lock says so. `marker` and `requires_python` are pylock's
    conditions on the whole package (uv.lock puts conditions on dependency edges instead and leaves them None).
    """

    project: NormalizedName
    version: Version
    filename: str
    sha256: str
    size: int | None
    kind: str  # "wheel" or "sdist"
    url: str | None
    index: str | None
    marker: Marker | None = None
    requires_python: SpecifierSet | None = None


@dataclass(frozen=True, slots=True)
class EntryError:
    """A lock entry (or one file of it) that cannot be mirrored, e.g. `uv.lock: package[3] (foo): ...`."""

    source: str
    entry: str
    project: str | None
    message: str

    def __str__(self) -> str:
        name = f" ({self.project})" if self.project else ""
        return f"{self.source}: {self.entry}{name}: {self.message}"


@dataclass(frozen=True, slots=True)
class LockedFiles:
    """The files of a lock file, its broken entries, and (pylock) every extra and group it knows."""

    files: tuple[LockedFile, ...]
    errors: tuple[EntryError, ...]
    extras: frozenset[str] = frozenset()
    dependency_groups: frozenset[str] = frozenset()


def read_pylock(text: str, source: str = "pylock.toml") -> LockedFiles:
    """Files of a PEP 751 lock file, validated with packaging.pylock one package at a time."""
    document = _toml(text, source)
    if "packages" not in document:
        raise InvalidLockfile(f"{source}: no packages array: not a pylock file")
    entries = _tables(document, "packages", source)
    try:
        header = Pylock.from_dict({**document, "packages": []})
    except PylockValidationError as exc:
        raise InvalidLockfile(f"{source}: {exc}") from None
    files: list[LockedFile] = []
    errors: list[EntryError] = []
    for position, entry in enumerate(entries):
        where = f"packages[{position}]"
        name = entry.get("name") if isinstance(entry.get("name"), str) else None
        try:
            package = _pylock_package(entry)
            files += _pylock_files(package, where, errors, source)
        except EntryProblem as exc:
            errors.append(EntryError(source, where, name, exc.message))
    return LockedFiles(
        tuple(files), tuple(errors), frozenset(header.extras or ()), frozenset(header.dependency_groups or ())
    )


def _pylock_package(entry: Mapping[str, Any]) -> Package:
    """One package validated on its own, so that a broken entry does not take the whole file with it."""
    try:
        lock = Pylock.from_dict({"lock-version": "1.0", "created-by": "rennet", "packages": [entry]})
    except PylockValidationError as exc:
        context = (exc.context or "").removeprefix("packages[0]").lstrip(".")
        raise EntryProblem(f"{exc.message} in {context!r}" if context else exc.message) from None
    return lock.packages[0]


def _pylock_files(package: Package, where: str, errors: list[EntryError], source: str) -> list[LockedFile]:
    for reference, label in (
        (package.vcs, "a VCS checkout"),
        (package.directory, "a local directory"),
        (package.archive, "a direct archive URL"),
    ):
        if reference is not None:
            raise EntryProblem(f"{label}, not a file from an index: cannot be mirrored")
    artifacts: list[tuple[str, PackageWheel | PackageSdist]] = [
        (f"wheels[{i}]", wheel) for i, wheel in enumerate(package.wheels or ())
    ]
    if package.sdist is not None:
        artifacts.append(("sdist", package.sdist))
    found: list[LockedFile] = []
    for place, artifact in artifacts:
        try:
            found.append(_pylock_file(package, artifact))
        except EntryProblem as exc:
            errors.append(EntryError(source, f"{where}.{place}", package.name, exc.message))
    return found


def _pylock_file(package: Package, artifact: PackageWheel | PackageSdist) -> LockedFile:
    kind = "wheel" if isinstance(artifact, PackageWheel) else "sdist"
    if not artifact.url:
        raise EntryProblem(f"{artifact.filename} is a local path, not a file from an index")
    sha256 = artifact.hashes.get("sha256")
    if not sha256:
        raise EntryProblem(f"{artifact.filename} has no sha256 hash (has: {', '.join(artifact.hashes)})")
    file = checked_file(package.name, package.version, artifact.filename, kind)
    return LockedFile(
        package.name, file.version, file.filename, _sha256(sha256), artifact.size, kind,
        artifact.url, package.index, package.marker, package.requires_python,
    )  # fmt: skip


def read_uv_lock(text: str, source: str = "uv.lock") -> LockedFiles:
    """Files of a uv lock file (format version 1): only packages with a registry source have any."""
    document = _toml(text, source)
    version = document.get("version")
    if version != 1:
        raise InvalidLockfile(f"{source}: uv.lock format version {version!r} is not supported (expected 1)")
    files: list[LockedFile] = []
    errors: list[EntryError] = []
    for position, entry in enumerate(_tables(document, "package", source)):
        where = f"package[{position}]"
        name = entry.get("name") if isinstance(entry.get("name"), str) else None
        try:
            files += _uv_files(entry, where, errors, source)
        except EntryProblem as exc:
            errors.append(EntryError(source, where, name, exc.message))
    return LockedFiles(tuple(files), tuple(errors))


def _uv_files(entry: Mapping[str, Any], where: str, errors: list[EntryError], source: str) -> list[LockedFile]:
    project = checked_project(entry.get("name"))
    if _workspace_project(entry.get("source")):
        return []  # the locked project itself (or a member of its workspace): built from source, not fetched
    registry = _uv_registry(entry.get("source"))
    version = checked_version(entry.get("version"))
    artifacts: list[tuple[str, Any, str]] = []
    if "sdist" in entry:
        artifacts.append(("sdist", entry["sdist"], "sdist"))
    wheels = entry.get("wheels", [])
    if not isinstance(wheels, list):
        raise EntryProblem("wheels is not a list")
    artifacts += [(f"wheels[{i}]", wheel, "wheel") for i, wheel in enumerate(wheels)]
    if not artifacts:
        raise EntryProblem("lists no sdist and no wheels")
    found: list[LockedFile] = []
    for place, artifact, kind in artifacts:
        try:
            found.append(_uv_file(project, version, registry, artifact, kind))
        except EntryProblem as exc:
            errors.append(EntryError(source, f"{where}.{place}", project, exc.message))
    return found


def _uv_registry(value: object) -> str:
    """The index URL of a registry source; EntryProblem for every other kind of source."""
    if not isinstance(value, dict) or not value:
        raise EntryProblem("has no source table")
    if "registry" not in value:
        kind = next((k for k in value if k in _UV_SOURCES), None)
        described = f"{_UV_SOURCES[kind]} ({value[kind]})" if kind else f"an unknown source {value!r}"
        raise EntryProblem(f"comes from {described}, not from an index: cannot be mirrored")
    registry = value["registry"]
    if not isinstance(registry, str) or not registry.lower().startswith(("http://", "https://")):
        raise EntryProblem(f"registry {registry!r} is a local directory, not an index")
    return registry


def _workspace_project(value: object) -> bool:
    """uv marks the project a lock belongs to, and its workspace members, as virtual or editable sources."""
    return isinstance(value, dict) and ("virtual" in value or "editable" in value)


def _uv_file(project: NormalizedName, version: Version, registry: str, artifact: object, kind: str) -> LockedFile:
    if not isinstance(artifact, dict):
        raise EntryProblem(f"{kind} entry is not a table")
    url = artifact.get("url")
    if not isinstance(url, str) or not url:
        raise EntryProblem(f"{kind} has no url (a local file): cannot be fetched from an index")
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    file = checked_file(project, version, filename, kind)
    algorithm, _, digest = str(artifact.get("hash") or "").partition(":")
    if not digest:
        raise EntryProblem(f"{filename} has no hash")
    if algorithm != "sha256":
        raise EntryProblem(f"{filename} has a {algorithm} hash; the mirror needs sha256")
    size = artifact.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise EntryProblem(f"{filename} has an invalid size {size!r}")
    return LockedFile(project, version, file.filename, _sha256(digest), size, kind, url, registry)


def select_for_targets(locked: LockedFiles, targets: Iterable[Target], *, sdists: bool = True) -> list[LockedFile]:
    """The files that install on at least one target: matching wheels, and sdists unless turned off.

    A pylock package whose marker or Requires-Python excludes every target is left out. Markers are evaluated with
    every extra and dependency group of the lock enabled, so that nothing an install might ask for is missing.
    """
    targets = tuple(targets)
    environments: list[dict[str, str | AbstractSet[str]]] = [
        {**env, "extras": locked.extras, "dependency_groups": locked.dependency_groups}
        for env in marker_environments(targets)
    ]
    chosen: list[LockedFile] = []
    for file in locked.files:
        if not marker_holds(file.marker, environments, context="lock_file"):
            continue
        if not requires_python_ok(file.requires_python, targets):
            continue
        installs = wheel_matches(file.filename, targets) if file.kind == "wheel" else sdists
        if installs:
            chosen.append(file)
    return chosen


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidLockfile(f"{source}: not valid TOML: {exc}") from None


def _tables(document: Mapping[str, Any], key: str, source: str) -> list[Mapping[str, Any]]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidLockfile(f"{source}: {key} must be an array of tables")
    return value


def _sha256(digest: str) -> str:
    digest = digest.lower()
    if not _SHA256.match(digest):
        raise EntryProblem(f"{digest[:80]!r} is not a sha256 hex digest")
    return digest
