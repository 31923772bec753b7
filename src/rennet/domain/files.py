"""Distribution files as an index lists them, and the project pages that list them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from packaging.version import Version

from rennet.domain.names import NormalizedName, parse_dist_filename, version_or_none

__all__ = ["DistFile", "ProjectPage", "ProjectStatus", "best_hash", "merge_versions"]

# Strongest first; these are the names pip accepts in a link's #fragment.
HASH_PREFERENCE = ("sha256", "sha512", "sha384", "sha224", "sha1", "md5")


class ProjectStatus(StrEnum):
    """PEP 792 project status markers."""

    ACTIVE = "active"
    ARCHIVED = "archived"
    QUARANTINED = "quarantined"
    DEPRECATED = "deprecated"


@dataclass(frozen=True, slots=True)
class DistFile:
    """One file of a project, with every field the Simple API can carry.

    `index` names the index that holds the file; its URL lives under that index.
    `core_metadata` is None when no .metadata file exists, else the hashes of it (possibly none known).
    `source_url` is where a proxy fetches the bytes from; it never appears in a rendered page.
    `provenance` is the upstream's URL of the file's PEP 740 provenance and `provenance_sha256` the provenance
    object rennet holds (an upload's); either makes the page name rennet's own Integrity API URL.
    `first_seen` is when rennet first listed the file (policy reads it when the index states no upload time);
    it never appears in a rendered page either.
    """

    filename: str
    index: str
    hashes: Mapping[str, str] = field(default_factory=dict)
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    size: int | None = None
    upload_time: datetime | None = None
    core_metadata: Mapping[str, str] | None = None
    provenance: str | None = None
    provenance_sha256: str | None = None
    source_url: str | None = None
    first_seen: datetime | None = field(default=None, compare=False)  # bookkeeping, not what the index states

    @property
    def version(self) -> Version | None:
        parsed = parse_dist_filename(self.filename)
        return parsed.version if parsed else None

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    @property
    def has_provenance(self) -> bool:
        return bool(self.provenance or self.provenance_sha256)


def best_hash(hashes: Mapping[str, str]) -> tuple[str, str] | None:
    for name in HASH_PREFERENCE:
        if value := hashes.get(name):
            return name, value
    return None


@dataclass(frozen=True, slots=True)
class ProjectPage:
    """A project detail page: the files of one project in one index (or merged across a group)."""

    name: NormalizedName
    files: tuple[DistFile, ...]
    versions: tuple[str, ...] = ()
    status: ProjectStatus | None = None
    status_reason: str | None = None

    @property
    def listed_files(self) -> tuple[DistFile, ...]:
        """Quarantined projects list no files (PEP 792)."""
        return () if self.status is ProjectStatus.QUARANTINED else self.files

    @property
    def all_versions(self) -> tuple[str, ...]:
        """Versions named by the page plus those of its files, in version order (PEP 700)."""
        return merge_versions(self.versions, (str(v) for f in self.listed_files if (v := f.version)))

    def with_files(self, files: tuple[DistFile, ...]) -> ProjectPage:
        return replace(self, files=files)


def merge_versions(*groups: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, Version | None] = {}
    for group in groups:
        for text in group:
            if text not in seen:
                seen[text] = version_or_none(text)
    return tuple(sorted(seen, key=lambda t: (seen[t] is not None, seen[t] or Version("0"), t)))
