"""Security advisories in the OSV format (https://ossf.github.io/osv-schema/), as they concern Python projects.

An OSV record names the packages it affects by ecosystem and name, and the affected versions of each as a list
and as ranges of events (`introduced`, `fixed`, `last_affected`, `limit`). rennet reads the PyPI ecosystem's
packages of a record into one `Advisory` per project. Records whose id starts with `MAL-` report malicious
packages (the OpenSSF malicious-packages feed, which OSV republishes). A record with `withdrawn` set no longer
applies. Only `ECOSYSTEM` ranges are evaluated, with PEP 440 ordering: `GIT` ranges name commits, which a
published file does not carry (records list the affected versions of such ranges in `versions` as well).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from packaging.version import InvalidVersion, Version

from rennet.domain.files import DistFile
from rennet.domain.names import NormalizedName, canonical_name, version_or_none
from rennet.domain.policy import Hold, Refusal

__all__ = [
    "ADVISORIES_SLOT",
    "Advisory",
    "AdvisoryRule",
    "InvalidAdvisory",
    "affects",
    "describe_affected",
    "from_row",
    "parse_osv",
    "to_row",
    "vulnerabilities",
]

# The generation slot an import bumps besides the pages it changes: which projects have advisories at all.
ADVISORIES_SLOT = ("-advisories", "")
PYPI_ECOSYSTEM = "PyPI"
MALICIOUS_PREFIX = "MAL-"
_EVENTS = ("introduced", "fixed", "last_affected", "limit")


class InvalidAdvisory(ValueError):
    """A record that is not an OSV advisory rennet can apply; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Advisory:
    """One advisory as it concerns one project."""

    id: str
    project: NormalizedName
    modified: float  # seconds since the epoch
    withdrawn: float | None
    summary: str
    details: str
    aliases: tuple[str, ...]
    versions: frozenset[str]  # listed as affected, exactly as written
    ranges: tuple[tuple[tuple[str, str], ...], ...]  # ECOSYSTEM ranges: their (event, version) pairs, in order

    @property
    def malicious(self) -> bool:
        return self.id.startswith(MALICIOUS_PREFIX)

    @property
    def fixed_in(self) -> tuple[str, ...]:
        """The versions that fix it, as PyPI's JSON API lists them."""
        return tuple(sorted({v for r in self.ranges for event, v in r if event == "fixed"}, key=_sort_key))


@dataclass(frozen=True, slots=True)
class AdvisoryRule:
    """A policy rule (domain/policy.py) of one index: files that advisories name are held back. Reports of
    malicious packages when `malicious`, any other advisory when `vulnerable`; withdrawn ones never."""

    index: str
    advisories: tuple[Advisory, ...]  # the project's
    malicious: bool = True
    vulnerable: bool = False
    kind: str = "advisory"

    def judge(self, project: NormalizedName, file: DistFile, now: float) -> Hold | None:
        for advisory in self.advisories:
            if advisory.project != project or advisory.withdrawn is not None:
                continue
            if not (self.malicious if advisory.malicious else self.vulnerable):
                continue
            if affects(advisory, file.version):
                return Hold(Refusal(self.kind, self.index, self._message(file.filename, advisory)))
        return None

    def _message(self, filename: str, advisory: Advisory) -> str:
        what = "reports it as malicious" if advisory.malicious else "reports a vulnerability in it"
        about = f": {advisory.summary}" if advisory.summary else ""
        return f"{filename} is blocked by index {self.index!r}: advisory {advisory.id} {what}{about}"


def parse_osv(record: Any) -> list[Advisory]:
    """The advisories of one OSV record for Python projects (none if it concerns other ecosystems only).

    Raises InvalidAdvisory, naming the fault, for a record that does not follow the schema where rennet relies
    on it."""
    if not isinstance(record, Mapping):
        raise InvalidAdvisory("an OSV record is a JSON object")
    ident = _text(record, "id", required=True)
    modified = _moment(record, "modified", required=True)
    assert modified is not None
    withdrawn = _moment(record, "withdrawn")
    aliases = record.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise InvalidAdvisory("aliases must be a list of strings")
    affected = record.get("affected") or []
    if not isinstance(affected, list):
        raise InvalidAdvisory("affected must be a list")
    found: dict[NormalizedName, Advisory] = {}
    for entry in affected:
        package = entry.get("package") if isinstance(entry, Mapping) else None
        if not isinstance(package, Mapping) or package.get("ecosystem") != PYPI_ECOSYSTEM:
            continue
        name = package.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidAdvisory("a PyPI package of affected has no name")
        project = canonical_name(name)
        versions, ranges = _affected_versions(entry)
        earlier = found.get(project)
        if earlier is not None:  # one package listed twice: both lists apply
            versions, ranges = versions | earlier.versions, earlier.ranges + ranges
        found[project] = Advisory(
            ident,
            project,
            modified,
            withdrawn,
            _text(record, "summary"),
            _text(record, "details"),
            tuple(aliases),
            versions,
            ranges,
        )
    return list(found.values())


def affects(advisory: Advisory, version: Version | None) -> bool:
    """Whether the advisory names this version of its project. A malicious-package report names a file whose
    version cannot be read too: its whole project is suspect, so nothing of it is let through by doubt."""
    if version is None:
        return advisory.malicious
    if str(version) in advisory.versions or any(_same(listed, version) for listed in advisory.versions):
        return True
    return any(_in_range(events, version) for events in advisory.ranges)


def vulnerabilities(advisories: Iterable[Advisory], version: str, known: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """The `vulnerabilities` of PyPI's JSON API for one release: `known` (an upstream's entries) and then the
    advisories that name this version and are not withdrawn, unless `known` has them already (by id or alias)."""
    entries = [entry for entry in known if isinstance(entry, Mapping)]
    seen = {str(name) for entry in entries for name in (entry.get("id"), *(entry.get("aliases") or ())) if name}
    parsed = version_or_none(version)
    for advisory in advisories:
        if advisory.withdrawn is not None or not affects(advisory, parsed) or advisory.id in seen:
            continue
        if seen.intersection(advisory.aliases):
            continue
        seen.add(advisory.id)
        entries.append(
            {
                "aliases": list(advisory.aliases),
                "details": advisory.details,
                "fixed_in": list(advisory.fixed_in),
                "id": advisory.id,
                "link": f"https://osv.dev/vulnerability/{advisory.id}",
                "source": "osv",
                "summary": advisory.summary,
                "withdrawn": None,
            }
        )
    return [dict(entry) for entry in entries]


def describe_affected(advisory: Advisory, most: int = 10) -> str:
    """The affected versions for people: ranges as specifiers (">=1.0 <1.2.3"), then the versions listed."""
    parts = [_describe_range(events) for events in advisory.ranges]
    listed = sorted(advisory.versions, key=lambda v: (version_or_none(v) is None, version_or_none(v) or v, v))
    if listed:
        more = f" and {len(listed) - most} more" if len(listed) > most else ""
        parts.append("versions " + ", ".join(listed[:most]) + more)
    return "; ".join(parts) or "no version"


def _describe_range(events: tuple[tuple[str, str], ...]) -> str:
    segments: list[list[str]] = []
    operators = {"fixed": "<", "last_affected": "<=", "limit": "<"}
    for kind, bound in sorted(events, key=lambda e: _sort_key(e[1])):
        if kind == "introduced" or not segments:
            segments.append([])
        if kind == "introduced":
            if bound != "0":
                segments[-1].append(f">={bound}")
        else:
            segments[-1].append(f"{operators[kind]}{bound}")
    return ", ".join(" ".join(s) or "every version" for s in segments) or "every version"


def to_row(advisory: Advisory) -> dict[str, Any]:
    """The catalog's row of an advisory (lists as JSON text)."""
    return {
        "id": advisory.id,
        "project": advisory.project,
        "modified": advisory.modified,
        "withdrawn": advisory.withdrawn,
        "malicious": advisory.malicious,
        "summary": advisory.summary,
        "details": advisory.details,
        "aliases": json.dumps(list(advisory.aliases)),
        "versions": json.dumps(sorted(advisory.versions)),
        "ranges": json.dumps([list(map(list, events)) for events in advisory.ranges]),
    }


def from_row(row: Mapping[str, Any]) -> Advisory:
    return Advisory(
        row["id"],
        NormalizedName(row["project"]),
        row["modified"],
        row["withdrawn"],
        row["summary"],
        row["details"],
        tuple(json.loads(row["aliases"])),
        frozenset(json.loads(row["versions"])),
        tuple(tuple((event, version) for event, version in events) for events in json.loads(row["ranges"])),
    )


def _affected_versions(entry: Mapping[str, Any]) -> tuple[frozenset[str], tuple[tuple[tuple[str, str], ...], ...]]:
    versions = entry.get("versions") or []
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise InvalidAdvisory("versions must be a list of strings")
    ranges = entry.get("ranges") or []
    if not isinstance(ranges, list):
        raise InvalidAdvisory("ranges must be a list")
    evaluated = []
    for item in ranges:
        if not isinstance(item, Mapping) or not isinstance(item.get("events"), list):
            raise InvalidAdvisory("each range needs a type and a list of events")
        if item.get("type") != "ECOSYSTEM":
            continue
        evaluated.append(tuple(_events(item["events"])))
    if not versions and not evaluated and not ranges:
        raise InvalidAdvisory("a PyPI package of affected names no versions and no ranges")
    return frozenset(versions), tuple(evaluated)


def _events(events: Iterable[Any]) -> Iterable[tuple[str, str]]:
    for event in events:
        if not isinstance(event, Mapping) or len(event) != 1:
            raise InvalidAdvisory("each event is an object of one of introduced, fixed, last_affected or limit")
        ((kind, version),) = event.items()
        if kind not in _EVENTS or not isinstance(version, str):
            raise InvalidAdvisory(f"unknown range event {kind!r}")
        if kind != "introduced" or version != "0":
            try:
                Version(version)
            except InvalidVersion:
                raise InvalidAdvisory(f"{version!r} in a range is not a PEP 440 version") from None
        yield kind, version


def _in_range(events: tuple[tuple[str, str], ...], version: Version) -> bool:
    """The OSV schema's evaluation of one range: events in version order, each switching the state."""
    limits = [Version(v) for kind, v in events if kind == "limit"]
    if limits and not any(version < limit for limit in limits):
        return False
    affected = False
    for kind, bound in sorted((e for e in events if e[0] != "limit"), key=lambda e: _sort_key(e[1])):
        if kind == "introduced" and (bound == "0" or version >= Version(bound)):
            affected = True
        elif (kind == "fixed" and version >= Version(bound)) or (
            kind == "last_affected" and version > Version(bound)
        ):
            affected = False
    return affected


def _sort_key(version: str) -> tuple[int, Version | None]:
    return (0, None) if version == "0" else (1, Version(version))


def _same(listed: str, version: Version) -> bool:
    parsed = version_or_none(listed)
    return parsed is not None and parsed == version


def _text(record: Mapping[str, Any], key: str, required: bool = False) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidAdvisory(f"{key} must be a string" + (" and is required" if required else ""))
    return value


def _moment(record: Mapping[str, Any], key: str, required: bool = False) -> float | None:
    value = record.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidAdvisory(f"{key} must be an RFC 3339 time" + (" and is required" if required else ""))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidAdvisory(f"{key} {value!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise InvalidAdvisory(f"{key} {value!r} names no time zone")
    return moment.timestamp()
