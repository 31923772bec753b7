"""What the web UI shows of one project in one index: the files the index serves (for a group, after its
dependency-confusion rule, each with the member that serves it), grouped by release, with their uploaders, and
the description of the latest release (PyPI's JSON API document, built or passed through as /pypi/ serves it).

The page the Simple API serves is the source: the UI shows exactly what an installer pointed at the index gets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rennet.domain.files import DistFile, ProjectStatus
from rennet.domain.pypi_json import ReleaseFile, choose_release, releases_of
from rennet.domain.search import describe
from rennet.service.errors import NotFound, ServiceError
from rennet.service.indexes.interface import IndexService
from rennet.service.indexes.proxy import ProxyService
from rennet.service.indexes.pypi_json import json_answer
from rennet.service.runtime.resources import WorkerResources

__all__ = ["RELEASES_PER_PAGE", "FileView", "ProjectView", "ReleaseView", "project_view"]

log = logging.getLogger("rennet.ui")
RELEASES_PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class FileView:
    file: DistFile
    uploader: str | None


@dataclass(frozen=True, slots=True)
class ReleaseView:
    version: str
    files: tuple[FileView, ...]

    @property
    def yanked(self) -> bool:
        return all(item.file.yanked for item in self.files)

    @property
    def upload_time(self) -> datetime | None:
        times = [item.file.upload_time for item in self.files if item.file.upload_time is not None]
        return min(times) if times else None


@dataclass(frozen=True, slots=True)
class ProjectView:
    index: str  # the index asked (a group, perhaps)
    name: str
    status: ProjectStatus | None
    status_reason: str | None
    releases: tuple[ReleaseView, ...]  # this page's, newest first
    latest: str | None
    sources: tuple[str, ...]  # the hosted or proxy indexes whose files the index serves, in order
    info: dict[str, Any]  # `info` of PyPI's JSON API for the latest release; {} when unknown
    page: int = 1  # which page of releases, from 1
    pages: int = 1
    release_count: int = 0


async def project_view(
    shared: WorkerResources, service: IndexService, project: str, root: str, page: int = 1
) -> ProjectView:
    """The project as `service` serves it, one page of RELEASES_PER_PAGE releases (the newest first): a project
    may have thousands. NotFound when the index has no such project, or the project no such page."""
    cached = await service.project_page(project)
    if cached.page is None:
        raise NotFound(cached.message or f"no project named {project!r} in {service.name}")
    files = cached.page.files
    sources = tuple(dict.fromkeys(file.index for file in files))
    releases = releases_of(ReleaseFile(file, str(file.version) if file.version else "?") for file in files)
    pages = max(1, -(-len(releases) // RELEASES_PER_PAGE))
    if page > pages:
        raise NotFound(f"{project} has {len(releases)} release(s), {pages} page(s) of them: there is no page {page}")
    newest_first = list(reversed(releases.items()))
    shown = newest_first[(page - 1) * RELEASES_PER_PAGE : page * RELEASES_PER_PAGE]
    uploaders: dict[str, str] = {}
    for source in sources:
        filenames = [item.file.filename for _, items in shown for item in items if item.file.index == source]
        if filenames:
            uploaders |= await shared.db(shared.catalog.uploaders, source, project, filenames)
    views = tuple(
        ReleaseView(version, tuple(FileView(item.file, uploaders.get(item.file.filename)) for item in items))
        for version, items in shown
    )
    latest = choose_release(releases, None)
    info = await _description(shared, service, project, latest, root)
    listed = cached.page
    return ProjectView(
        service.name,
        listed.name,
        listed.status,
        listed.status_reason,
        views,
        latest,
        sources,
        info,
        page=page,
        pages=pages,
        release_count=len(releases),
    )


async def _description(
    shared: WorkerResources, service: IndexService, project: str, latest: str | None, root: str
) -> dict[str, Any]:
    """The latest release's `info`; {} when there is none to be had (a proxy offline, or whose upstream has no
    JSON API, or fails): the files are shown all the same. The document of that release alone, not the whole
    project's (every release's files). A proxy project's summary is kept, for search."""
    try:
        try:
            answer = await json_answer(service, project, latest, root)
        except NotFound:
            if latest is None:
                raise
            # An upstream may spell the release otherwise (1.0 for 1.0.0): its choice of the latest, then.
            answer = await json_answer(service, project, None, root)
    except (NotFound, ServiceError) as error:
        log.info("no description of %s in %s: %s", project, service.name, error)
        return {}
    info = answer.document.get("info")
    if not isinstance(info, dict):
        return {}
    summary, version = info.get("summary"), info.get("version")
    # Only a proxy's own document: through a group, the description may be a hosted project's (a private one).
    proxied = isinstance(service, ProxyService) and isinstance(summary, str) and isinstance(version, str)
    if proxied and (described := describe(str(version), str(summary))) is not None:
        await shared.db(shared.catalog.learn_summary, service.name, project, described)
    return info
