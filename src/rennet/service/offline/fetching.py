"""Fetching one file of a proxy (or group) into the store for the offline tools, as a client's request would.

A fetched file goes through the index's own single-flight download and hash check, so a running server sees it
at once, and a wheel's PEP 658 .metadata is fetched with it (installers ask for it). Every failure is one file's
outcome, with the reason; nothing raises. `rennet mirror` (requirements, lock files) and `rennet mirror --all`
share this path.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from rennet.domain.files import DistFile
from rennet.domain.names import NormalizedName
from rennet.service.answers import LocalFile, StreamingFile, copied
from rennet.service.errors import ServiceError
from rennet.service.indexes.interface import IndexService
from rennet.service.runtime.downloads import DownloadFailed

__all__ = ["FetchProgress", "FileFetcher", "FileOutcome", "reason"]


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What became of one file: "fetched" now, "cached" already, or "failed" with the reason."""

    filename: str
    state: str
    size: int = 0
    sha256: str | None = None
    error: str | None = None
    path: Path | None = field(default=None, compare=False)


class FetchProgress(Protocol):
    """Where fetching reports as it goes (a progress bar, or nothing)."""

    def planned(self, files: int, size: int) -> None:
        """More files (and bytes, where the index says their size) are to be handled."""

    def advance(self, size: int) -> None:
        """Bytes of the planned ones are done: transferred, found cached, or given up."""

    def finished(self, outcome: FileOutcome) -> None: ...


class FileFetcher:
    """Files of one index, at most `concurrency` transfers and `concurrency` metadata look-ups at a time."""

    def __init__(self, index: IndexService, concurrency: int, progress: FetchProgress) -> None:
        self._index = index
        self._transfers = asyncio.Semaphore(concurrency)
        self._lookups = asyncio.Semaphore(concurrency)
        self._progress = progress

    async def fetch(self, project: NormalizedName, file: DistFile) -> FileOutcome:
        """The file held (and a wheel's .metadata with it), or why not; the caller has `planned` it."""
        outcome, moved = await self._transfer(project, file)
        if outcome.state != "failed" and file.filename.endswith(".whl") and file.core_metadata is not None:
            outcome = await self._with_metadata(project, outcome)  # a look-up: the transfer slot is free again
        self._progress.advance(max(0, (file.size or outcome.size) - moved))
        self._progress.finished(outcome)
        return outcome

    async def open_metadata(self, project: NormalizedName, filename: str) -> bytes | str:
        """A wheel's core metadata, or why it cannot be had."""
        async with self._lookups:
            try:
                answer = await copied(await self._index.open_metadata(project, filename))
                if isinstance(answer, StreamingFile):
                    return b"".join([chunk async for chunk in answer.download.stream(answer.fd)])
                return await asyncio.to_thread(answer.path.read_bytes)
            except (ServiceError, DownloadFailed, OSError) as error:
                return reason(error)

    async def _transfer(self, project: NormalizedName, file: DistFile) -> tuple[FileOutcome, int]:
        """The file held (fetched now or already), and how many of its bytes were reported as they came."""
        moved = 0
        async with self._transfers:
            try:
                answer = await copied(await self._index.open_file(project, file.filename))
                state = "cached" if isinstance(answer, LocalFile) else "fetched"
                if isinstance(answer, StreamingFile):
                    if file.size is None and answer.size is not None:
                        self._progress.planned(0, answer.size)
                    async for chunk in answer.download.stream(answer.fd):
                        moved += len(chunk)
                        self._progress.advance(len(chunk))
                    await answer.download.settled()
                    answer = await copied(await self._index.open_file(project, file.filename))
                return _held(file, answer, state), moved
            except (ServiceError, DownloadFailed) as error:
                return FileOutcome(file.filename, "failed", error=reason(error)), moved

    async def _with_metadata(self, project: NormalizedName, outcome: FileOutcome) -> FileOutcome:
        """The wheel's PEP 658 metadata, held too: the index advertises it, so installers will ask for it."""
        found = await self.open_metadata(project, outcome.filename)
        if isinstance(found, str):
            return replace(outcome, state="failed", error=f"its .metadata file could not be fetched: {found}")
        return outcome


def _held(file: DistFile, answer: LocalFile | StreamingFile, state: str) -> FileOutcome:
    """The outcome once the file should be held: its size and sha256, checked against the page once more."""
    if not isinstance(answer, LocalFile):
        return FileOutcome(file.filename, "failed", error="the download ended but the file is not held")
    if file.sha256 is not None and answer.sha256 != file.sha256:
        error = f"held with sha256 {answer.sha256}, but the index says {file.sha256}"
        return FileOutcome(file.filename, "failed", error=error)
    return FileOutcome(file.filename, state, answer.size, answer.sha256, path=answer.path)


def reason(error: BaseException) -> str:
    return error.message if isinstance(error, ServiceError) else str(error) or type(error).__name__
