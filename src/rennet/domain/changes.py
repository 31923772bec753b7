"""What changed between two versions of a project page (for refresh summaries and cache invalidation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rennet.domain.files import DistFile

__all__ = ["PageChanges", "diff_files"]


@dataclass(slots=True)
class PageChanges:
    added: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    yanked: list[str] = field(default_factory=list)
    unyanked: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    meta_changed: bool = False
    first: bool = False  # the project was listed for the first time: every file is new

    def __bool__(self) -> bool:
        return bool(self.added or self.gone or self.yanked or self.unyanked or self.updated or self.meta_changed)

    def merge(self, other: PageChanges) -> None:
        self.added += other.added
        self.gone += other.gone
        self.yanked += other.yanked
        self.unyanked += other.unyanked
        self.updated += other.updated
        self.meta_changed = self.meta_changed or other.meta_changed


def diff_files(old: Mapping[str, DistFile], new: Mapping[str, DistFile]) -> PageChanges:
    changes = PageChanges()
    for filename, file in new.items():
        before = old.get(filename)
        if before is None:
            changes.added.append(filename)
        elif file.yanked and not before.yanked:
            changes.yanked.append(filename)
        elif before.yanked and not file.yanked:
            changes.unyanked.append(filename)
        elif file != before:
            changes.updated.append(filename)
    changes.gone = [filename for filename in old if filename not in new]
    return changes
