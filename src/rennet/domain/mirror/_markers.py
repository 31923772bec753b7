"""Evaluating environment markers for targets that are described, not running.

A target knows its Python, OS and machine, but not the OS release or kernel version: a marker that reads
`platform_release` or `platform_version` cannot be decided, and counts as true. Mirroring one file too many is
better than missing one an install will ask for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet

from packaging.markers import EvaluateContext, Marker, UndefinedComparison, UndefinedEnvironmentName

UNKNOWN_VARIABLES = ("platform_release", "platform_version")

Environment = Mapping[str, str | AbstractSet[str]]


def undecidable(marker: Marker) -> bool:
    """Whether the marker reads a variable no target knows (or one packaging cannot compare)."""
    text = str(marker)
    return any(name in text for name in UNKNOWN_VARIABLES)


def marker_holds(
    marker: Marker | None,
    environments: Iterable[Environment],
    extras: Iterable[str] = (),
    context: EvaluateContext = "metadata",
) -> bool:
    """Whether the marker is true in any environment, with no extra or with any of `extras`."""
    if marker is None or undecidable(marker):
        return True
    for environment in environments:
        for extra in ("", *extras):
            try:
                if marker.evaluate({**environment, "extra": extra}, context):
                    return True
            except (UndefinedComparison, UndefinedEnvironmentName):
                return True
    return False
