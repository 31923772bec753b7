"""pip requirements files as a list of wanted projects, for `rennet mirror -r requirements.txt`.

The reader is a callback, so parsing stays pure: the caller decides where files come from. A bad line never stops
the parse: it becomes an error that names its file and line, and the other lines still count. What a mirror
cannot fetch from an index (editables, URLs, local paths) is an error of its line; options that only steer pip
(index URLs, --prefer-binary, ...) are ignored with a note, because the mirror fetches from its own upstream.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from rennet.domain.mirror._reqlines import (
    Option,
    OptionError,
    expand_variables,
    logical_lines,
    parse_options,
    split_line,
)
from rennet.domain.names import NormalizedName, canonical_name

__all__ = [
    "HASH_LENGTHS",
    "LineMessage",
    "Origin",
    "ParsedRequirements",
    "Reader",
    "WantedItem",
    "parse_requirements",
    "parse_requirements_text",
]

Reader = Callable[[str], str]

# The algorithms pip accepts in --hash, with the length of their hex digests.
HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://|^(git|hg|svn|bzr)\+|^file:", re.IGNORECASE)
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")
_IGNORED = {
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "--find-links",
    "--trusted-host",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
    "--use-feature",
    "--require-hashes",
}
_ONLY_NAMED = "only named requirements from an index can be mirrored"
_PER_REQUIREMENT = {"--hash", "--config-settings", "--global-option"}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a line came from; line 0 stands for the file as a whole."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class WantedItem:
    """One project a requirements file asks for.

    `hashes` holds (algorithm, lower-case hex) pairs from --hash: when not empty, only files with one of these
    digests may be used (pip's hash-checking mode).
    """

    name: NormalizedName
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    marker: Marker | None = None
    extras: frozenset[NormalizedName] = frozenset()
    hashes: frozenset[tuple[str, str]] = frozenset()
    origin: Origin | None = None

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        marker = f"; {self.marker}" if self.marker else ""
        return f"{self.name}{extras}{self.specifier}{marker}"


@dataclass(frozen=True, slots=True)
class LineMessage:
    origin: Origin
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedRequirements:
    """What a requirements file and the files it includes ask for.

    `constraints` come from -c files: they narrow versions of projects that something else asks for, and never
    add a project. `allow_prereleases` is set by --pre anywhere.
    """

    items: tuple[WantedItem, ...]
    constraints: tuple[WantedItem, ...]
    errors: tuple[LineMessage, ...]
    notes: tuple[LineMessage, ...]
    allow_prereleases: bool = False


def parse_requirements(path: str, read: Reader, *, environ: Mapping[str, str] | None = None) -> ParsedRequirements:
    """Parse the file at `path` and everything it includes with -r and -c.

    `read(path)` returns a file's text and may raise OSError or UnicodeError: that becomes an error, not an
    exception. Included paths are resolved against the including file's directory, with '/' as separator.
    `environ` supplies ${VARIABLE} values; without it they stay unexpanded.
    """
    parser = _Parser(read, environ)
    parser.include(posixpath.normpath(path), constraint=False, origin=Origin(path, 0))
    return parser.result()


def parse_requirements_text(
    text: str, path: str = "requirements.txt", read: Reader | None = None, *, environ: Mapping[str, str] | None = None
) -> ParsedRequirements:
    """Parse requirements given as text; includes go through `read`, and are errors without one."""
    parser = _Parser(read, environ)
    parser.parse(posixpath.normpath(path), text, constraint=False)
    return parser.result()


class _Parser:
    """Walks a file and its includes, collecting items and per-line messages."""

    def __init__(self, read: Reader | None, environ: Mapping[str, str] | None) -> None:
        self._read = read
        self._environ = environ
        self._stack: list[str] = []
        self._done: set[tuple[str, bool]] = set()
        self.items: list[WantedItem] = []
        self.constraints: list[WantedItem] = []
        self.errors: list[LineMessage] = []
        self.notes: list[LineMessage] = []
        self.pre = False

    def result(self) -> ParsedRequirements:
        return ParsedRequirements(
            tuple(self.items), tuple(self.constraints), tuple(self.errors), tuple(self.notes), self.pre
        )

    def include(self, path: str, *, constraint: bool, origin: Origin) -> None:
        if path in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(path) :], path])
            self.errors.append(LineMessage(origin, f"include cycle: {cycle}"))
            return
        if (path, constraint) in self._done:
            return  # included twice along different paths: its lines already count once
        if self._read is None:
            self.errors.append(LineMessage(origin, f"cannot include {path}: no reader given"))
            return
        try:
            text = self._read(path)
        except (OSError, UnicodeError) as exc:
            self.errors.append(LineMessage(origin, f"cannot read {path}: {exc}"))
            return
        self.parse(path, text, constraint=constraint)

    def parse(self, path: str, text: str, *, constraint: bool) -> None:
        self._stack.append(path)
        self._done.add((path, constraint))
        for number, line in logical_lines(text):
            self._line(Origin(path, number), expand_variables(line, self._environ), constraint)
        self._stack.pop()

    def _line(self, origin: Origin, line: str, constraint: bool) -> None:
        requirement, option_text = split_line(line)
        try:
            options = parse_options(option_text)
        except OptionError as exc:
            self.errors.append(LineMessage(origin, str(exc)))
            return
        if requirement:
            self._requirement(origin, requirement, options, constraint)
        else:
            for option in options:
                self._line_option(origin, option, constraint)

    def _line_option(self, origin: Origin, option: Option, constraint: bool) -> None:
        value = option.value or ""
        if option.name in {"--requirement", "--constraint"}:
            if _URL.match(value):
                self.errors.append(LineMessage(origin, f"{option.name} {value}: remote files are not fetched"))
                return
            target = posixpath.normpath(str(PurePosixPath(origin.file).parent / value))
            self.include(target, constraint=constraint or option.name == "--constraint", origin=origin)
        elif option.name == "--editable":
            self.errors.append(LineMessage(origin, f"editable requirement {value} cannot be mirrored"))
        elif option.name == "--pre":
            self.pre = True
        elif option.name in _IGNORED:
            self.notes.append(LineMessage(origin, f"{option.name} ignored: the mirror fetches from its upstream"))
        else:
            self.errors.append(LineMessage(origin, f"{option.name} must follow a requirement on the same line"))

    def _requirement(self, origin: Origin, text: str, options: list[Option], constraint: bool) -> None:
        try:
            item = _wanted(text)
            hashes = _hashes(options)
        except ValueError as exc:
            self.errors.append(LineMessage(origin, str(exc)))
            return
        for option in options:
            if option.name in {"--config-settings", "--global-option"}:
                self.notes.append(LineMessage(origin, f"{option.name} ignored: the mirror builds nothing"))
        if constraint and item.extras:
            self.errors.append(LineMessage(origin, f"constraints cannot have extras: {text}"))
            return
        item = WantedItem(item.name, item.specifier, item.marker, item.extras, hashes, origin)
        (self.constraints if constraint else self.items).append(item)


def _wanted(text: str) -> WantedItem:
    """The named requirement in `text`; ValueError says why a mirror cannot use it."""
    if _URL.match(text):
        raise ValueError(f"{text!r} is a URL: {_ONLY_NAMED}")
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        if _looks_like_path(text):
            raise ValueError(f"{text!r} is a local path: {_ONLY_NAMED}") from None
        raise ValueError(f"invalid requirement {text!r}: {str(exc).splitlines()[0]}") from None
    if requirement.url:
        raise ValueError(f"{requirement.name} @ {requirement.url}: direct URL references cannot be mirrored")
    if requirement.name.lower().endswith(_ARCHIVES):
        raise ValueError(f"{text!r} is a local file: {_ONLY_NAMED}")
    extras = frozenset(canonical_name(extra) for extra in requirement.extras)
    return WantedItem(canonical_name(requirement.name), requirement.specifier, requirement.marker, extras)


def _looks_like_path(text: str) -> bool:
    first = text.split(";")[0].strip()
    return first.startswith((".", "/", "~")) or "/" in first or "\\" in first or first.lower().endswith(_ARCHIVES)


def _hashes(options: list[Option]) -> frozenset[tuple[str, str]]:
    """The --hash values of a requirement line; ValueError for options a requirement line may not carry."""
    found: set[tuple[str, str]] = set()
    for option in options:
        if option.name not in _PER_REQUIREMENT:
            raise ValueError(f"{option.name} is not allowed on a requirement line")
        if option.name == "--hash":
            found.add(_hash(option.value or ""))
    return frozenset(found)


def _hash(value: str) -> tuple[str, str]:
    """(algorithm, digest) from sha256:<hex>, checked the way pip checks it."""
    algorithm, sep, digest = value.partition(":")
    algorithm, digest = algorithm.lower(), digest.lower()
    if not sep or algorithm not in HASH_LENGTHS:
        raise ValueError(f"--hash {value!r}: use sha256:<hex> (or sha384, sha512)")
    if len(digest) != HASH_LENGTHS[algorithm] or not re.fullmatch(r"[0-9a-f]+", digest):
        raise ValueError(f"--hash {value!r}: not a {algorithm} hex digest")
    return algorithm, digest
