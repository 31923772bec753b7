"""How a group combines its members' pages, and why it cannot be tricked into dependency confusion.

A project that exists in any hosted member is served from the hosted members only: the same name on a proxied
upstream (where anyone can register it) is hidden entirely, so a public file can never stand in for a private
one. A group may name projects in `allow_upstream` to merge both sides on purpose (as devpi's mirror_whitelist).
Among proxy members the first one that has the project wins, which is uv's default index strategy.
Within what is merged, the first member listing a filename provides it. A file a member's policy hides stays
hidden in the group, for the member's reason, unless another merged member lists a file of that name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rennet.domain.files import DistFile, ProjectPage, merge_versions
from rennet.domain.indexes import IndexKind
from rennet.domain.policy import Refusal

__all__ = ["MemberPage", "merge_group_page", "merge_hidden", "needs_proxies"]


@dataclass(frozen=True, slots=True)
class MemberPage:
    index: str
    kind: IndexKind
    page: ProjectPage | None
    hidden: Mapping[str, Refusal] = field(default_factory=dict)  # what the member's policy hides, and why


def needs_proxies(hosted: Sequence[MemberPage], allowed_upstream: bool) -> bool:
    """Whether the proxy members must be asked, given what the hosted members hold."""
    return allowed_upstream or not any(member.page is not None for member in hosted)


def merge_group_page(members: Sequence[MemberPage], allowed_upstream: bool) -> ProjectPage | None:
    """The group's page for one project from its members' pages (in member order), or None when none has it."""
    sources = _sources(members, allowed_upstream)
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


def merge_hidden(
    members: Sequence[MemberPage], allowed_upstream: bool, merged: ProjectPage | None
) -> dict[str, Refusal]:
    """What the merged members' policies hide from the group's page, and why (the first member's reason): a file
    of a member the group does not merge is simply absent, not held back."""
    listed = {file.filename for file in merged.files} if merged is not None else set()
    hidden: dict[str, Refusal] = {}
    for member in _sources(members, allowed_upstream):
        for filename, refusal in member.hidden.items():
            if filename not in listed:
                hidden.setdefault(filename, refusal)
    return hidden


def _sources(members: Sequence[MemberPage], allowed_upstream: bool) -> list[MemberPage]:
    """The members whose files the group merges, in member order."""
    present = [m for m in members if m.page is not None]
    hosted = [m for m in present if m.kind is IndexKind.HOSTED]
    first_proxy = next((m for m in present if m.kind is IndexKind.PROXY), None)
    if hosted and not allowed_upstream:
        return hosted
    sources = hosted + ([first_proxy] if first_proxy else [])
    sources.sort(key=present.index)
    return sources
