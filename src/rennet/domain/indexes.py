"""The index model: named proxy, hosted and group indexes, and the checks that keep a configuration sound."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from rennet.domain.hosts import TrustedHosts
from rennet.domain.names import NormalizedName
from rennet.domain.policy import Denial, Deny, Exemption, MinAge, Policy, Rule

__all__ = [
    "ANYONE",
    "GroupIndex",
    "HostedIndex",
    "IndexConfig",
    "IndexKind",
    "IndexOption",
    "InvalidConfig",
    "ProxyIndex",
    "check_indexes",
    "index_options",
    "leaf_members",
    "policy_of",
    "readers_of",
    "upload_target",
]

_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# First path segments the server uses for itself.
RESERVED_NAMES = frozenset({"simple", "legacy", "health", "ready", "api", "static", "files", "-", "favicon.ico"})


ANYONE = "*"  # in a reader list: every authenticated user


class InvalidConfig(ValueError):
    pass


class IndexKind(StrEnum):
    PROXY = "proxy"
    HOSTED = "hosted"
    GROUP = "group"


def _option(kind: str, default: Any = MISSING, key: str | None = None, needs: str | None = None, **extra: Any) -> Any:
    """A field set in an [index.NAME] table: `kind` says how its value is read (see rennet.config), `key` is its
    name in the table when that is not the field's, `needs` describes a value every index of the kind needs."""
    return field(default=default, metadata={"kind": kind, "key": key, "needs": needs}, **extra)


@dataclass(frozen=True, slots=True)
class IndexOption:
    """A setting of an index table, as the index class declares it."""

    key: str
    attribute: str
    kind: str
    needs: str | None  # what a table that leaves it out is told it needs; None: optional


def index_options(cls: type[IndexConfig]) -> tuple[IndexOption, ...]:
    return tuple(
        IndexOption(item.metadata["key"] or item.name, item.name, item.metadata["kind"], item.metadata["needs"])
        for item in fields(cls)
        if "kind" in item.metadata
    )


@dataclass(frozen=True, slots=True)
class ProxyIndex:
    name: str
    upstream: str = _option("url", needs="an upstream URL")  # "": PyPI's (only the built-in `pypi` proxy)
    page_ttl: float = _option("duration", 600.0)
    negative_ttl: float = _option("duration", 60.0)
    listing_ttl: float = _option("duration", 3600.0)
    connect_timeout: float = _option("duration", 10.0)
    read_timeout: float = _option("duration", 30.0)
    retry_after: float = _option("duration", 30.0)  # after an upstream failure, stale pages this long
    stale_after: float = _option("duration", 2.0)  # a slow refresh serves the held page after this long
    username: str | None = _option("text", None)
    password: str | None = _option("text", None, repr=False)
    max_cache_size: int | None = _option("size", None)
    private: bool = _option("bool", False)
    readers: frozenset[str] = _option("names", frozenset(), key="read")
    # Hosts files may come from besides the upstream's own, whatever their addresses (see rennet.domain.hosts).
    file_hosts: frozenset[str] = _option("hosts", frozenset())
    min_age: float = _option("duration", 0.0)  # see rennet.domain.policy
    min_age_exempt: frozenset[Exemption] = _option("exemptions", frozenset())
    deny: tuple[Denial, ...] = _option("denials", ())
    block_malicious: bool = _option("bool", True)  # files that reports of malicious packages name (domain/advisories)
    block_vulnerable: bool = _option("bool", False)  # files that any other advisory names
    # What `rennet mirror --all` and `--sync` keep of the upstream (rennet.domain.mirror.scope); flags override.
    mirror_allow: tuple[str, ...] = _option("patterns", ())
    mirror_deny: tuple[str, ...] = _option("patterns", ())
    mirror_latest: int | None = _option("count", None)
    mirror_prereleases: bool = _option("bool", True)
    mirror_python: tuple[str, ...] = _option("pythons", ())
    mirror_platforms: tuple[str, ...] = _option("platforms", ())
    mirror_sdists: bool = _option("bool", True)
    mirror_max_file_size: int | None = _option("size", None)
    kind: IndexKind = IndexKind.PROXY

    @property
    def trusted_hosts(self) -> TrustedHosts:
        """The upstream's own host and the file_hosts: fetched from even at private addresses."""
        upstream_host = urlsplit(self.upstream).hostname or ""
        return TrustedHosts.of([upstream_host, *self.file_hosts])


@dataclass(frozen=True, slots=True)
class HostedIndex:
    name: str
    private: bool = _option("bool", False)
    readers: frozenset[str] = _option("names", frozenset(), key="read")
    uploaders: frozenset[str] = _option("names", frozenset(), key="upload")
    max_upload_size: int = _option("size", 1 << 30)
    deny: tuple[Denial, ...] = _option("denials", ())
    block_malicious: bool = _option("bool", True)  # files that reports of malicious packages name (domain/advisories)
    block_vulnerable: bool = _option("bool", False)  # files that any other advisory names
    kind: IndexKind = IndexKind.HOSTED


@dataclass(frozen=True, slots=True)
class GroupIndex:
    name: str
    members: tuple[str, ...] = _option("members", needs="members")
    allow_upstream: frozenset[NormalizedName] = _option("projects", frozenset())
    private: bool = _option("bool", False)
    readers: frozenset[str] = _option("names", frozenset(), key="read")
    min_age: float = _option("duration", 0.0)
    min_age_exempt: frozenset[Exemption] = _option("exemptions", frozenset())
    deny: tuple[Denial, ...] = _option("denials", ())
    block_malicious: bool = _option("bool", True)  # files that reports of malicious packages name (domain/advisories)
    block_vulnerable: bool = _option("bool", False)  # files that any other advisory names
    kind: IndexKind = IndexKind.GROUP


IndexConfig = ProxyIndex | HostedIndex | GroupIndex


def check_indexes(indexes: Mapping[str, IndexConfig], default_group: str) -> None:
    """Raise InvalidConfig, naming the problem, for names, unknown members and cycles."""
    for name, index in indexes.items():
        if name != index.name:
            raise InvalidConfig(f"index {name!r} is configured under another name ({index.name!r})")
        if not _INDEX_NAME.fullmatch(name) or name in RESERVED_NAMES:
            raise InvalidConfig(
                f"index name {name!r} is not allowed: use 1-64 lower-case letters, digits, '.', '_' or '-', "
                f"and none of {', '.join(sorted(RESERVED_NAMES))}"
            )
        if isinstance(index, GroupIndex):
            for member in index.members:
                if member not in indexes:
                    raise InvalidConfig(f"group {name!r} lists unknown index {member!r}")
        if isinstance(index, ProxyIndex) and bool(index.mirror_python) != bool(index.mirror_platforms):
            raise InvalidConfig(
                f"index.{name}: mirror_python and mirror_platforms go together (targets are both: a Python "
                "version on a platform); set both, or neither for every platform"
            )
    # Only once every member is known: flattening reaches into groups not checked yet.
    for index in indexes.values():
        if isinstance(index, GroupIndex):
            _check_group_readers(indexes, index)
    if default_group not in indexes:
        raise InvalidConfig(f"default index {default_group!r} is not configured")


def _check_group_readers(indexes: Mapping[str, IndexConfig], group: GroupIndex) -> None:
    """A group serves its members' files to whoever may read the group, so each of them must be allowed to read
    every private member as well: otherwise the group would be a way around the member's read list. (Admins may
    read everything and need no listing.)"""
    for member in leaf_members(indexes, group.name):
        index = indexes[member]
        if not index.private:
            continue
        if not group.private:
            raise InvalidConfig(
                f"group {group.name!r} is public but its member {member!r} is private: "
                f"set private = true on the group too, or it would publish {member!r}"
            )
        member_readers = readers_of(index)
        if ANYONE in member_readers:
            continue
        if ANYONE in group.readers:
            outsiders = 'every user (read = ["*"])'
        elif extra := sorted(group.readers - member_readers):
            outsiders = ", ".join(extra)
        else:
            continue
        raise InvalidConfig(
            f"group {group.name!r} may be read by {outsiders}, but its private member {member!r} may not, and "
            f"the group would show them its files: add them to the read list of {member!r}, or take them off "
            f"the group's"
        )


def upload_target(indexes: Mapping[str, IndexConfig], name: str) -> HostedIndex | None:
    """Where an upload to `name` goes: the hosted index itself, or a group's first hosted member."""
    index = indexes[name]
    if isinstance(index, HostedIndex):
        return index
    if isinstance(index, GroupIndex):
        for member in leaf_members(indexes, name):
            candidate = indexes[member]
            if isinstance(candidate, HostedIndex):
                return candidate
    return None


def readers_of(index: IndexConfig) -> frozenset[str]:
    """Who may read the index when it is private: its readers and, on a hosted index, its uploaders."""
    return index.readers | (index.uploaders if isinstance(index, HostedIndex) else frozenset())


def leaf_members(indexes: Mapping[str, IndexConfig], group: str) -> tuple[str, ...]:
    """The proxy and hosted indexes a group reaches, in order, nested groups flattened, first occurrence kept."""
    result: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise InvalidConfig(f"groups form a cycle: {' -> '.join((*path, name))}")
        index = indexes[name]
        if isinstance(index, GroupIndex):
            for member in index.members:
                visit(member, (*path, name))
        elif name not in result:
            result.append(name)

    visit(group, ())
    return tuple(result)


def policy_of(index: IndexConfig, proxies: frozenset[str] = frozenset()) -> Policy:
    """An index's own rules: denials first (they never change), then the cooldown. A cooldown is for files
    uploaded upstream: hosted indexes have none, and a group's judges the files of its proxy members (`proxies`,
    among its leaf members) only."""
    rules: list[Rule] = []
    if index.deny:
        rules.append(Deny(index.name, index.deny))
    if isinstance(index, ProxyIndex) and index.min_age > 0:
        rules.append(MinAge(index.name, index.min_age, index.min_age_exempt))
    if isinstance(index, GroupIndex) and index.min_age > 0:
        rules.append(MinAge(index.name, index.min_age, index.min_age_exempt, proxies))
    return Policy(tuple(rules))
