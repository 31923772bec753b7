"""Managing the projects of hosted indexes: yank and unyank (PEP 592), delete, and project status (PEP 792).

The command line (`rennet yank ...`) and the HTTP API (`POST /api/<index>/<project>/yank`) both come here. Every
change bumps the page's generation, so every worker of a running server serves it at once, groups included.
Deleted files leave the catalog; their bytes stay in the blob store until a garbage collection removes them.
Blocking (database): a server calls these methods in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from rennet.domain.files import ProjectStatus
from rennet.domain.indexes import HostedIndex, IndexConfig, upload_target
from rennet.domain.names import InvalidName, check_project_name, parse_dist_filename
from rennet.service.errors import NotFound, ServiceError
from rennet.service.runtime.resources import Storage, page_changed
from rennet.storage.catalog import ProjectRecord

__all__ = ["MAX_REASON", "Releases", "Target", "clean_reason", "hosted_index"]

MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class Target:
    """The files an action applies to: those of one release, one file, or (every) all of the project's."""

    version: str | None = None
    filename: str | None = None
    every: bool = False

    @classmethod
    def named(cls, text: str) -> Target:
        """A version or a filename, told apart by the filename's extension (no version has one)."""
        return cls(filename=text) if parse_dist_filename(text) is not None else cls(version=text)

    def describe(self) -> str:
        return "every file" if self.every else f"file {self.filename}" if self.filename else f"version {self.version}"


def hosted_index(indexes: Mapping[str, IndexConfig], name: str) -> HostedIndex:
    """The hosted index called `name`, or the error that explains why there is none to manage."""
    index = indexes.get(name)
    if index is None:
        raise NotFound(f"there is no index named {name[:64]!r}")
    if not isinstance(index, HostedIndex):
        target = upload_target(indexes, name)
        hint = f": its own projects live in {target.name}" if target is not None else ""
        raise ServiceError(400, f"{name} is a {index.kind.value} index, not a hosted one{hint}")
    return index


def clean_reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    if len(reason) > MAX_REASON:
        raise ServiceError(400, f"the reason is longer than {MAX_REASON} characters")
    return reason.strip()


class Releases:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.catalog = storage.catalog

    def yank(self, index: HostedIndex, project: str, target: Target, reason: str | None) -> list[str]:
        """Yank the target's files (again, when the reason changes); returns the filenames that changed."""
        return self._set_yanked(index, project, target, clean_reason(reason))

    def unyank(self, index: HostedIndex, project: str, target: Target) -> list[str]:
        return self._set_yanked(index, project, target, None, yanked=False)

    def delete(self, index: HostedIndex, project: str, target: Target) -> list[str]:
        """Remove the target's files; with `every`, the project itself leaves the index's project list."""
        name = self._project(index, project).name
        with _vanished(index, name):
            if target.every:
                removed = self.catalog.delete_project(index.name, name)
                page_changed(self.storage, index.name)
            else:
                removed = self.catalog.delete_files(index.name, name, self._select(index, name, target))
        page_changed(self.storage, index.name, name)
        return sorted(removed)

    def set_status(self, index: HostedIndex, project: str, status: ProjectStatus, reason: str | None) -> bool:
        """Set the project's status; False when it was that already (with that reason)."""
        record = self._project(index, project)
        reason = clean_reason(reason)
        if (record.status, record.status_reason) == (status, reason):
            return False
        with _vanished(index, record.name):
            self.catalog.set_status(index.name, record.name, status, reason)
        page_changed(self.storage, index.name, record.name)
        return True

    def _set_yanked(
        self, index: HostedIndex, project: str, target: Target, reason: str | None, yanked: bool = True
    ) -> list[str]:
        name = self._project(index, project).name
        with _vanished(index, name):
            changed = self.catalog.set_yanked(index.name, name, self._select(index, name, target), yanked, reason)
        if changed:
            page_changed(self.storage, index.name, name)
        return sorted(changed)

    def _project(self, index: HostedIndex, project: str) -> ProjectRecord:
        try:
            name = check_project_name(project)
        except InvalidName as error:
            raise ServiceError(400, str(error)) from None
        record = self.catalog.project(index.name, name)
        if record is None:
            raise NotFound(f"there is no project {name!r} in {index.name}")
        return record

    def _select(self, index: HostedIndex, project: str, target: Target) -> list[str]:
        if target.filename is not None:
            if self.catalog.file(index.name, project, target.filename) is None:
                raise NotFound(f"project {project} in {index.name} has no file {target.filename!r}")
            return [target.filename]
        if target.version is not None:
            found = self.catalog.files_of(index.name, project, target.version)
            if not found:
                raise NotFound(f"project {project} in {index.name} has no version {target.version!r}")
            return found
        if not target.every:
            raise ServiceError(400, "name a version or a file, or ask for all of the project's files")
        return self.catalog.files_of(index.name, project, None)


@contextmanager
def _vanished(index: HostedIndex, project: str) -> Iterator[None]:
    """The project was deleted between finding it and changing it (the catalog raises LookupError)."""
    try:
        yield
    except LookupError:
        raise NotFound(f"there is no project {project!r} in {index.name}") from None
