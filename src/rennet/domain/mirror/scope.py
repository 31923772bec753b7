"""What part of an upstream `rennet mirror --all` keeps: which projects, and which of their files.

A scope is the filters of a full (or filtered) mirror, settings of the proxy index and flags of the command:
project name patterns (allow and deny), the latest N releases, pre-releases or not, target environments (the
`Target`s `rennet mirror` already knows), sdists or not, and a size limit per file. Pure: pages in, files out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.indexes import ProxyIndex
from rennet.domain.mirror._choice import Release, releases_of
from rennet.domain.mirror.targets import Target, make_targets, requires_python_ok, wheel_matches
from rennet.domain.names import canonical_name

__all__ = ["InvalidPattern", "MirrorScope", "check_pattern", "scope_of"]

# A project name (PEP 508 letters, digits, ".", "_", "-") with shell wildcards: * ? and [...] classes.
_PATTERN = re.compile(r"^[A-Za-z0-9._*?\[\]!-]+$")


class InvalidPattern(ValueError):
    """A name pattern that cannot match a project name."""


def check_pattern(pattern: str) -> str:
    """The pattern normalized like a project name (lower case, runs of "-_." as "-"); raises InvalidPattern."""
    text = pattern.strip()
    if not _PATTERN.match(text):
        raise InvalidPattern(
            f"{pattern!r} is not a project name pattern: use letters, digits, '.', '_', '-' and the wildcards * ? [ ]"
        )
    return canonical_name(text)


@dataclass(frozen=True, slots=True)
class MirrorScope:
    """The filters of a mirror. Empty `allow` lets every name in; `deny` wins over `allow`.

    `latest`: the newest N releases that have a file in scope (None: all). `targets`: empty means every
    platform and Python. Files whose size the index does not state pass the size limit (the download itself
    stops at what the page announces).
    """

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    latest: int | None = None
    prereleases: bool = True
    targets: tuple[Target, ...] = ()
    sdists: bool = True
    max_file_size: int | None = None

    def __post_init__(self) -> None:
        if self.latest is not None and self.latest < 1:
            raise ValueError("latest must be at least 1")

    def wants(self, name: str) -> bool:
        """Whether the project (a normalized name) is in scope by its name."""
        if any(fnmatchcase(name, pattern) for pattern in self.deny):
            return False
        return not self.allow or any(fnmatchcase(name, pattern) for pattern in self.allow)

    def files(self, page: ProjectPage) -> tuple[DistFile, ...]:
        """The page's files in scope, newest release first. Yanked files count: installers pinned to them still
        get them, and the page says they are yanked."""
        chosen: list[DistFile] = []
        releases = 0
        for release in self._releases(page):
            kept = [file for file in release.files if self._keeps(file)]
            if not kept:
                continue
            chosen += kept
            releases += 1
            if self.latest is not None and releases >= self.latest:
                break
        return tuple(chosen)

    def _releases(self, page: ProjectPage) -> Iterable[Release]:
        for release in releases_of(page):
            if self.prereleases or not release.version.is_prerelease:
                yield release

    def _keeps(self, file: DistFile) -> bool:
        if self.max_file_size is not None and file.size is not None and file.size > self.max_file_size:
            return False
        is_wheel = file.filename.lower().endswith(".whl")
        if not is_wheel and not self.sdists:
            return False
        if not self.targets:
            return True
        if not requires_python_ok(file.requires_python, self.targets):
            return False
        return not is_wheel or wheel_matches(file.filename, self.targets)

    def describe(self) -> str:
        """The filters in a few words, for the command's first line."""
        parts = []
        if self.allow:
            parts.append(f"names {', '.join(self.allow)}")
        if self.deny:
            parts.append(f"not {', '.join(self.deny)}")
        if self.latest is not None:
            parts.append(f"latest {self.latest} release(s)")
        if not self.prereleases:
            parts.append("no pre-releases")
        if self.targets:
            parts.append(f"for {', '.join(map(str, self.targets))}")
        if not self.sdists:
            parts.append("no sdists")
        if self.max_file_size is not None:
            parts.append(f"files up to {self.max_file_size} bytes")
        return "; ".join(parts) or "everything"


def scope_of(index: ProxyIndex) -> MirrorScope:
    """The scope an index's mirror_* settings describe (checked when the configuration was read)."""
    targets = make_targets(index.mirror_python, index.mirror_platforms) if index.mirror_python else ()
    return MirrorScope(
        allow=index.mirror_allow,
        deny=index.mirror_deny,
        latest=index.mirror_latest,
        prereleases=index.mirror_prereleases,
        targets=targets,
        sdists=index.mirror_sdists,
        max_file_size=index.mirror_max_file_size,
    )
