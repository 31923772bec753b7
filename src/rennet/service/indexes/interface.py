"""What every index service offers the web edge and the tools, whatever its kind, and what they share."""

from __future__ import annotations

from typing import Protocol

from rennet.domain.indexes import IndexConfig, IndexKind
from rennet.service.answers import FileAnswer, Listing
from rennet.service.runtime.pagecache import CachedPage
from rennet.service.runtime.policing import refused
from rennet.service.runtime.resources import WorkerResources
from rennet.storage.catalog import FileRecord

__all__ = ["IndexService", "listed_file", "listing_index"]


class IndexService(Protocol):
    name: str
    kind: IndexKind
    holds_uploads: bool  # hosted content, which changes on upload, is in its pages

    @property
    def config(self) -> IndexConfig: ...

    async def project_page(self, project: str) -> CachedPage: ...

    async def open_file(self, project: str, filename: str) -> FileAnswer: ...

    async def open_metadata(self, project: str, filename: str) -> FileAnswer: ...

    async def provenance(self, project: str, filename: str) -> bytes:
        """The file's PEP 740 provenance object (service/indexes/provenance.py)."""
        ...

    async def listing(self) -> Listing: ...


async def listed_file(
    shared: WorkerResources, index: str, page: CachedPage, project: str, filename: str
) -> FileRecord | None:
    """The catalog's record of a file, if the index's page lists it: only what the page lists is offered, so the
    files of a quarantined project (PEP 792) stay unreachable, whoever asks for them by name. A file the index's
    policy hides is refused (403, naming the rule)."""
    if listing_index(shared, page, filename) is None:
        return None
    return await shared.db(shared.catalog.file, index, project, filename)


def listing_index(shared: WorkerResources, page: CachedPage, filename: str) -> str | None:
    """The index whose listing of the file the page serves, None when it lists no such file; a file the policy
    hides is refused (403, naming the rule; logged and counted)."""
    owner = page.index_of(filename)
    if owner is None and (refusal := page.hidden.get(filename)) is not None:
        raise refused(shared.metrics, refusal)
    return owner
