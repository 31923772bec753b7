"""Small builders for project pages and core metadata, so that tests read like the index they describe."""

from __future__ import annotations

import hashlib

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.mirror.requirements import WantedItem, parse_requirements_text
from rennet.domain.names import canonical_name


def sha(filename: str) -> str:
    """A stable fake digest per filename."""
    return hashlib.sha256(filename.encode()).hexdigest()


def dist(
    filename: str,
    *,
    requires_python: str | None = None,
    yanked: bool = False,
    yanked_reason: str | None = None,
    metadata: bool = False,
) -> DistFile:
    return DistFile(
        filename,
        "upstream",
        {"sha256": sha(filename)},
        requires_python=requires_python,
        yanked=yanked,
        yanked_reason=yanked_reason,
        core_metadata={"sha256": sha(filename + ".metadata")} if metadata else None,
    )


def page(name: str, *files: DistFile | str) -> ProjectPage:
    built = tuple(dist(f) if isinstance(f, str) else f for f in files)
    return ProjectPage(canonical_name(name), built)


def metadata(name: str, version: str, *requires: str, dynamic: str | None = None) -> bytes:
    lines = ["Metadata-Version: 2.3", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    if dynamic:
        lines.append(f"Dynamic: {dynamic}")
    return ("\n".join(lines) + "\n\n").encode()


def want(line: str) -> WantedItem:
    """The single item of a one-line requirements text."""
    parsed = parse_requirements_text(line + "\n")
    assert not parsed.errors, parsed.errors
    (item,) = parsed.items
    return item
