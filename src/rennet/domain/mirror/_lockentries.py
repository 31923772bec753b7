"""Checks shared by the lock file readers: one entry's name, version and file names."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from rennet.domain.names import InvalidName, NormalizedName, check_filename, check_project_name, parse_dist_filename


class EntryProblem(ValueError):
    """Why one lock entry (or one of its files) cannot be mirrored."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class CheckedFile:
    filename: str
    version: Version


def checked_project(value: object) -> NormalizedName:
    if not isinstance(value, str):
        raise EntryProblem("has no name")
    try:
        return check_project_name(value)
    except InvalidName as exc:
        raise EntryProblem(str(exc)) from None


def checked_version(value: object) -> Version:
    if not isinstance(value, str):
        raise EntryProblem("has no version")
    try:
        return Version(value)
    except InvalidVersion:
        raise EntryProblem(f"{value!r} is not a valid version") from None


def checked_file(project: NormalizedName, version: Version | None, filename: str, kind: str) -> CheckedFile:
    """The file name of a `kind` file of project `version`, safe to store; EntryProblem when it is not one.

    Without a version (pylock lets index packages omit it), the file name's version is the version.
    """
    try:
        check_filename(filename)
    except InvalidName as exc:
        raise EntryProblem(str(exc)) from None
    parsed = parse_dist_filename(filename)
    if parsed is None or parsed.kind != kind:
        raise EntryProblem(f"{filename!r} is not a {kind} file name")
    if parsed.project != project:
        raise EntryProblem(f"{filename!r} belongs to project {parsed.project!r}, not {project!r}")
    if parsed.version is None or (version is not None and parsed.version != version):
        raise EntryProblem(f"{filename!r} is not version {version}")
    return CheckedFile(filename, parsed.version)
