"""PyPI's JSON API for every kind of index: built from the catalog for hosted projects, passed through from the
upstream (its file URLs pointed at rennet) for proxies, and chosen by the group rule for groups.

In a group, a project that a hosted member holds is answered from the hosted members only, so a public project
of the same name never shows through (rennet.domain.groups). For a name in allow_upstream the member order
decides: a document describes one project's metadata, so the first member that has the project answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rennet.domain.advisories import vulnerabilities
from rennet.domain.files import ProjectStatus
from rennet.domain.pypi_json import (
    Links,
    ReleaseFile,
    choose_release,
    release_document,
    releases_of,
    rewrite_upstream,
    upstream_json_url,
    without_files,
)
from rennet.service.errors import NotFound, ServiceError
from rennet.service.indexes.group import GroupService
from rennet.service.indexes.hosted import HostedService
from rennet.service.indexes.interface import IndexService
from rennet.service.indexes.proxy import ProxyService
from rennet.service.runtime.resources import WorkerResources
from rennet.storage.blobs import LocalBlobStore
from rennet.storage.catalog import ProjectRecord

__all__ = ["JsonAnswer", "json_answer"]


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    document: dict[str, Any]
    serial: int | None  # the project's last serial, when known


async def json_answer(service: IndexService, project: str, version: str | None, root: str) -> JsonAnswer:
    """The document for `project` (normalized) in `service`, or for one release of it; NotFound when absent.

    `root` is the server's base URL: file URLs are absolute and lead to this index on this server.
    """
    links = Links(root, service.name)
    found: JsonAnswer | None = None
    if isinstance(service, ProxyService) and upstream_json_url(service.client.base_url, project, version) is None:
        raise NotFound(f"{service.name} has no JSON API: its upstream's URL does not end in /simple/")
    hidden = await _hidden(service, project)
    if isinstance(service, GroupService):
        found = await _group(service, project, version, links, hidden)
    elif isinstance(service, ProxyService):
        found = await _upstream(service, project, version, links, hidden)
    elif isinstance(service, HostedService):
        holders = await _holders(service.shared, [service], project)
        found = await _hosted(service.shared, holders, project, version, links, hidden) if holders else None
    if found is None:
        release = f" version {version!r} of" if version is not None else ""
        raise NotFound(f"no{release} project named {project!r} in {service.name}")
    return found


async def _hidden(service: IndexService, project: str) -> frozenset[str]:
    """The files the index's policy hides from the project's page: the document leaves them out too. A page that
    cannot be built now hides nothing here (its files are refused when asked for all the same)."""
    try:
        page = await service.project_page(project)
    except ServiceError:
        return frozenset()
    return page.withheld


async def _with_advisories(shared: WorkerResources, project: str, found: JsonAnswer) -> JsonAnswer:
    """The imported advisories that name the document's release, after the upstream's own (`rennet advisories`)."""
    advisories = await shared.advisories_for(project)
    release = found.document.get("info", {}).get("version")
    if not advisories or not isinstance(release, str):
        return found
    known = found.document.get("vulnerabilities")
    listed = vulnerabilities(advisories, release, known if isinstance(known, list) else ())
    return replace(found, document=found.document | {"vulnerabilities": listed})


async def _group(
    group: GroupService, project: str, version: str | None, links: Links, hidden: frozenset[str]
) -> JsonAnswer | None:
    hosted = [m for m in group.members if isinstance(m, HostedService)]
    holders = await _holders(group.shared, hosted, project)
    upstream_allowed = not holders or project in group.config.allow_upstream
    for member in group.members:
        if isinstance(member, HostedService) and holders:
            return await _hosted(group.shared, holders, project, version, links, hidden)
        if isinstance(member, ProxyService) and upstream_allowed:
            found = await _upstream(member, project, version, links, hidden)
            if found is not None:
                return found
    return None


async def _holders(
    shared: WorkerResources, members: Sequence[HostedService], project: str
) -> list[tuple[HostedService, ProjectRecord]]:
    """The hosted members that have the project, in order, with its record there."""
    records = await asyncio.gather(*(shared.db(shared.catalog.project, m.name, project) for m in members))
    return [(member, record) for member, record in zip(members, records, strict=True) if record is not None]


async def _hosted(
    shared: WorkerResources,
    holders: Sequence[tuple[HostedService, ProjectRecord]],
    project: str,
    version: str | None,
    links: Links,
    hidden: frozenset[str],
) -> JsonAnswer:
    """Files merged as the group's simple page merges them: the first member listing a filename provides it; the
    files the policy hides are not among them."""
    lead = holders[0][1]
    if lead.status is ProjectStatus.QUARANTINED:
        raise NotFound(f"{project} is quarantined in {links.index}: none of its files are offered")
    files: dict[str, ReleaseFile] = {}
    for member, _ in holders:
        for item in await shared.db(shared.catalog.release_details, member.name, project, version):
            if item.file.filename not in hidden:
                files.setdefault(item.file.filename, item)
    releases = releases_of(files.values())
    chosen = choose_release(releases, version)
    if chosen is None:
        what = f"no version {version!r}" if version is not None else "no files"
        raise NotFound(f"{project} has {what} in {links.index}")
    metadata = await shared.db(_core_metadata, shared.blobs, releases[chosen])  # a copy may come from the bucket
    serial = max(record.serial for _, record in holders)
    document = release_document(project, releases, chosen, metadata, serial, links, with_releases=version is None)
    return await _with_advisories(shared, project, JsonAnswer(document, serial))


def _core_metadata(blobs: LocalBlobStore, files: Sequence[ReleaseFile]) -> bytes | None:
    """The release's stored metadata, a wheel's first: an sdist's PKG-INFO may leave fields dynamic."""
    for item in sorted(files, key=lambda f: not f.file.filename.endswith(".whl")):
        if item.metadata_sha256 and (path := blobs.held_path(item.metadata_sha256)):
            return path.read_bytes()
    return None


async def _upstream(
    proxy: ProxyService, project: str, version: str | None, links: Links, hidden: frozenset[str]
) -> JsonAnswer | None:
    """The upstream's document with rennet's file URLs; None when the upstream has no such project (or no API)."""
    url = upstream_json_url(proxy.client.base_url, project, version)
    if url is None:
        return None
    if proxy.shared.offline:
        raise NotFound(f"{proxy.name}: rennet is offline, and the JSON API of a mirror needs its upstream")
    body = await proxy.upstream_document(url)
    if body is None:
        return None
    try:
        document = without_files(rewrite_upstream(await asyncio.to_thread(json.loads, body), project, links), hidden)
    except (ValueError, RecursionError) as error:
        raise ServiceError(
            502, f"{proxy.name}: the upstream's JSON API sent an unreadable answer ({error})"
        ) from None
    serial = document.get("last_serial")
    return await _with_advisories(
        proxy.shared, project, JsonAnswer(document, serial if isinstance(serial, int) else None)
    )
