"""What every index service offers the web edge and the tools, whatever its kind."""

from __future__ import annotations

from typing import Protocol

from rennet.domain.indexes import IndexConfig, IndexKind
from rennet.service.answers import FileAnswer, Listing
from rennet.service.runtime.pagecache import CachedPage

__all__ = ["IndexService"]


class IndexService(Protocol):
    name: str
    kind: IndexKind
    holds_uploads: bool  # hosted content, which changes on upload, is in its pages

    @property
    def config(self) -> IndexConfig: ...

    async def project_page(self, project: str) -> CachedPage: ...

    async def open_file(self, project: str, filename: str) -> FileAnswer: ...

    async def open_metadata(self, project: str, filename: str) -> FileAnswer: ...

    async def listing(self) -> Listing: ...
