"""`rennet mirror`: fetch into a proxy index everything an offline install needs.

The planning layer (domain.mirrorplan) decides which files; this module does the I/O it asks for, through the
index services: a mirrored file goes through the same single-flight download and hash check as a file a client
asked for, and a running server sees it at once. Lock files name exact files: each is checked against the index
(its sha256 must be the one the index publishes) before anything is downloaded. Every failure belongs to one
item and is reported; the other items carry on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.mirror import LockedFile, MirrorOptions, Plan, PlanResult, WantedItem
from rennet.domain.names import NormalizedName
from rennet.service.archives import NoMetadata, read_metadata
from rennet.service.errors import ServiceError
from rennet.service.indexes.interface import IndexService
from rennet.service.offline.fetching import FetchProgress, FileFetcher, FileOutcome

__all__ = ["FileOutcome", "LockedItem", "Mirror", "MirrorInputs", "MirrorProgress", "MirrorReport"]


@dataclass(frozen=True, slots=True)
class LockedItem:
    """One file a lock file pins, and the lock file (for messages)."""

    source: str
    file: LockedFile


@dataclass(frozen=True, slots=True)
class MirrorInputs:
    """What to mirror.

    `items` are resolved (unless the options turn resolution off); `complete` items come from hash-pinned
    requirements, which name every project already and are never resolved further; `constraints` narrow both.
    """

    items: tuple[WantedItem, ...] = ()
    complete: tuple[WantedItem, ...] = ()
    constraints: tuple[WantedItem, ...] = ()
    locked: tuple[LockedItem, ...] = ()


@dataclass(slots=True)
class MirrorReport:
    outcomes: dict[str, FileOutcome]
    problems: list[str]  # items that could not be planned or checked: nothing (or not all) was fetched for them
    notes: list[str]
    seconds: float = 0.0

    def count(self, state: str) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome.state == state)

    @property
    def bytes_fetched(self) -> int:
        return sum(outcome.size for outcome in self.outcomes.values() if outcome.state == "fetched")

    @property
    def ok(self) -> bool:
        return not self.problems and not self.count("failed")


class MirrorProgress(FetchProgress, Protocol):
    """Where a mirror reports as it goes (a progress bar, or nothing)."""

    def problem(self, message: str) -> None: ...

    def note(self, message: str) -> None: ...


class _Silent:
    def planned(self, files: int, size: int) -> None:
        pass

    def advance(self, size: int) -> None:
        pass

    def finished(self, outcome: FileOutcome) -> None:
        pass

    def problem(self, message: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class Mirror:
    """One mirror run into one index (a proxy, or a group with proxy members, following the group's rules).

    Page and metadata look-ups and file transfers each run at most `concurrency` at a time.
    """

    def __init__(
        self,
        index: IndexService,
        options: MirrorOptions,
        concurrency: int = 8,
        progress: MirrorProgress | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._index = index
        self._options = options
        self._lookups = asyncio.Semaphore(concurrency)
        self._progress: MirrorProgress = progress or _Silent()
        self._fetcher = FileFetcher(index, concurrency, self._progress)
        self._pages: dict[NormalizedName, asyncio.Task[ProjectPage | str]] = {}
        self._downloads: dict[str, asyncio.Task[FileOutcome]] = {}
        self._listed_in: dict[str, NormalizedName] = {}  # filename -> the project whose page lists it
        self._report = MirrorReport({}, [], [])

    async def run(self, inputs: MirrorInputs) -> MirrorReport:
        started = time.monotonic()
        plans = []
        if inputs.items:
            plans.append(Plan(inputs.items, self._options, inputs.constraints))
        if inputs.complete:
            plans.append(Plan(inputs.complete, replace(self._options, resolve=False), inputs.constraints))
        work: list[Awaitable[None]] = [self._locked(item) for item in inputs.locked]
        work += [self._planned(plan) for plan in plans]
        await asyncio.gather(*work)
        # The work above has started every download there is to do; now wait for them all.
        for outcome in await asyncio.gather(*self._downloads.values()):
            self._report.outcomes[outcome.filename] = outcome
        self._report.seconds = time.monotonic() - started
        return self._report

    def _problem(self, message: str) -> None:
        self._report.problems.append(message)
        self._progress.problem(message)

    def _note(self, message: str) -> None:
        self._report.notes.append(message)
        self._progress.note(message)

    # -- pages -----------------------------------------------------------------------------------------------------

    def _page(self, project: NormalizedName) -> asyncio.Task[ProjectPage | str]:
        """The project's page, or why there is none; asked once per run, whoever needs it."""
        if project not in self._pages:
            self._pages[project] = asyncio.ensure_future(self._load_page(project))
        return self._pages[project]

    async def _load_page(self, project: NormalizedName) -> ProjectPage | str:
        async with self._lookups:
            try:
                cached = await self._index.project_page(project)
            except ServiceError as error:
                return error.message
        if cached.page is None:
            return cached.message or f"no project named {project!r} in {self._index.name}"
        for file in cached.page.listed_files:
            self._listed_in.setdefault(file.filename, project)
        return cached.page

    # -- resolution --------------------------------------------------------------------------------------------------

    async def _planned(self, plan: Plan) -> None:
        """Answer the plan's questions as soon as they come up, then download what it chose."""
        asked: set[tuple[str, str]] = set()
        running: set[asyncio.Task[None]] = set()
        while True:
            for name in plan.next_needed():
                if ("page", name) not in asked:
                    asked.add(("page", name))
                    running.add(asyncio.ensure_future(self._feed_page(plan, name)))
            for file in plan.metadata_needed():
                if ("metadata", file.filename) not in asked:
                    asked.add(("metadata", file.filename))
                    running.add(asyncio.ensure_future(self._feed_metadata(plan, file)))
            if not running:
                break
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a bug here must not pass silently
        self._take(plan.result())

    async def _feed_page(self, plan: Plan, project: NormalizedName) -> None:
        page = await self._page(project)
        if isinstance(page, str):
            plan.page_missing(project, page)
        else:
            plan.add_page(page)

    async def _feed_metadata(self, plan: Plan, file: DistFile) -> None:
        """Core metadata of a chosen file: PEP 658 when the index has it, else from the file itself.

        A file read for its metadata is one the plan chose, so it is downloaded (and counted) as any other.
        """
        project = self._listed_in[file.filename]
        if file.filename.endswith(".whl") and file.core_metadata is not None:
            found = await self._fetcher.open_metadata(project, file.filename)
        else:
            outcome = await self._download(project, file)
            if outcome.path is None:
                found = f"{file.filename} could not be fetched: {outcome.error}"
            elif file.filename.endswith(".whl"):
                found = await self._fetcher.open_metadata(project, file.filename)
            else:
                found = await _sdist_metadata(outcome.path, file.filename)
        if isinstance(found, str):
            plan.metadata_missing(file.filename, found)
        else:
            plan.add_metadata(file.filename, found)

    def _take(self, result: PlanResult) -> None:
        """Report what the plan could not settle, and download what it chose."""
        for selection in result.selections:
            for problem in selection.problems:
                self._problem(problem)
            for note in selection.notes:
                self._note(note)
            for file in selection.files:
                self._download(selection.project, file)
        for conflict in result.conflicts:
            self._problem(str(conflict))
        for error in result.errors:
            self._problem(error)
        for skipped in result.skipped:
            self._note(skipped)

    # -- lock files --------------------------------------------------------------------------------------------------

    async def _locked(self, item: LockedItem) -> None:
        """A file a lock file pins: it must be the very file the index lists, checked before downloading."""
        locked = item.file
        label = f"{locked.filename} ({locked.project} {locked.version} from {item.source})"
        page = await self._page(locked.project)
        if isinstance(page, str):
            self._problem(f"{label}: {page}")
            return
        listed = next((f for f in page.listed_files if f.filename == locked.filename), None)
        if listed is None:
            self._problem(f"{label}: {self._index.name} does not list this file")
            return
        if (mismatch := _lock_mismatch(locked, listed)) is not None:
            self._problem(f"{label}: {mismatch}; not downloaded")
            return
        outcome = await self._download(locked.project, listed)
        if outcome.state != "failed" and outcome.sha256 != locked.sha256:
            # Only possible when the index publishes no sha256: the proxy could not check the bytes for us.
            self._problem(f"{label}: the file's sha256 is {outcome.sha256}, the lock file says {locked.sha256}")

    # -- files -------------------------------------------------------------------------------------------------------

    def _download(self, project: NormalizedName, file: DistFile) -> asyncio.Task[FileOutcome]:
        """The file's download, started once per run however many items want it."""
        if file.filename not in self._downloads:
            self._progress.planned(1, file.size or 0)
            self._downloads[file.filename] = asyncio.ensure_future(self._fetch(project, file))
        return self._downloads[file.filename]

    async def _fetch(self, project: NormalizedName, file: DistFile) -> FileOutcome:
        return await self._fetcher.fetch(project, file)


def _lock_mismatch(locked: LockedFile, listed: DistFile) -> str | None:
    """Why the index's file is not the one the lock file pins, as far as the index's own data tells."""
    if listed.sha256 is not None and listed.sha256 != locked.sha256:
        return f"the lock file's sha256 {locked.sha256} differs from the index's {listed.sha256}"
    if locked.size is not None and listed.size is not None and locked.size != listed.size:
        return f"the lock file says {locked.size} bytes, the index {listed.size}"
    return None


async def _sdist_metadata(path: Path, filename: str) -> bytes | str:
    try:
        return await asyncio.to_thread(read_metadata, path, filename)
    except NoMetadata as error:
        return str(error)
