"""How a group combines its members' pages, and why it cannot be tricked into dependency confusion.

A project that exists in any hosted member is served from the hosted members only: the same name on a proxied
upstream (where anyone can register it) is hidden entirely, so a public file can never stand in for a private
one. A group may name projects in `allow_upstream` to merge both sides on purpose (as devpi's mirror_whitelist).
Among proxy members the first one that has the project wins, which is uv's default index strategy.
Within what is merged, the first member listing a filename provides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rennet.domain.files import DistFile, ProjectPage, merge_versions
from rennet.domain.indexes import IndexKind

__all__ = ["MemberPage", "merge_group_page", "needs_proxies"]


@dataclass(frozen=True, slots=True)
class MemberPage:
    index: str
    kind: IndexKind
    page: ProjectPage | None


def needs_proxies(hosted: Sequence[MemberPage], allowed_upstream: bool) -> bool:
    """Whether the proxy members must be asked, given what the hosted members hold."""
    return allowed_upstream or not any(member.page is not None for member in hosted)


def merge_group_page(members: Sequence[MemberPage], allowed_upstream: bool) -> ProjectPage | None:
    """The group's page for one project from its members' pages (in member order), or None when none has it."""
    present = [m for m in members if m.page is not None]
    hosted = [m for m in present if m.kind is IndexKind.HOSTED]
    first_proxy = next((m for m in present if m.kind is IndexKind.PROXY), None)
    if hosted and not allowed_upstream:
        sources = hosted
    else:
        sources = hosted + ([first_proxy] if first_proxy else [])
        sources.sort(key=present.index)
    if not sources:
        return None
    files: dict[str, DistFile] = {}
    for member in sources:
        assert member.page is not None
        for file in member.page.listed_files:
            files.setdefault(file.filename, file)
    lead = next(m.page for m in sources if m.page is not None)
    return ProjectPage(
        name=lead.name,
        files=tuple(files.values()),
        versions=merge_versions(*(m.page.versions for m in sources if m.page is not None)),
        status=lead.status,
        status_reason=lead.status_reason,
    )
