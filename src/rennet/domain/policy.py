"""Supply-chain policy: rules that hold files back from an index's pages and downloads, and refuse uploads.

A rule judges one file of one project at an instant: it lets the file through, or holds it back with a
sentence naming the rule and, when the verdict changes by itself later (a cooldown ending), the instant it
does. An index's pages list only what its rules let through, and expire at the earliest such instant, so a
file that crosses an age limit appears without anyone refreshing anything. Rules today: `deny` (names and
requirement specifiers, on any index), `min_age` (a cooldown on new uploads, on proxies and groups) and
`Snapshot` (an index as it was at an instant, asked for in the URL); another kind (an advisory feed, say) is one
more class with `kind` and `judge`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.names import InvalidName, NormalizedName, check_project_name

__all__ = [
    "Denial",
    "Deny",
    "Exemption",
    "Hold",
    "MinAge",
    "Policy",
    "Refusal",
    "Rule",
    "Screened",
    "Snapshot",
    "describe_duration",
    "parse_denial",
    "parse_exemption",
    "parse_instant",
    "timestamp",
    "upload_instant",
]

NEVER = math.inf


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a file is not offered: the rule's kind ("deny", "min_age", "snapshot"), whose rule it is, a sentence."""

    rule: str
    index: str
    message: str


@dataclass(frozen=True, slots=True)
class Hold:
    """A file held back, and the instant (seconds since the epoch) the verdict changes by itself; NEVER if not."""

    refusal: Refusal
    until: float = NEVER


class Rule(Protocol):
    @property
    def kind(self) -> str: ...

    def judge(self, project: NormalizedName, file: DistFile, now: float) -> Hold | None: ...


# -- values of the settings -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exemption:
    """A project (every version) or one `name==version` pin that skips a cooldown."""

    name: NormalizedName
    version: Version | None = None

    def covers(self, project: NormalizedName, version: Version | None) -> bool:
        return project == self.name and (self.version is None or self.version == version)


@dataclass(frozen=True, slots=True)
class Denial:
    """A project name, or a requirement specifier ("name==1.2.*"): the files it matches are refused."""

    text: str
    name: NormalizedName
    specifier: SpecifierSet

    def matches(self, project: NormalizedName, version: Version | None) -> bool:
        if project != self.name:
            return False
        if not self.specifier or version is None:
            return True  # a file whose version cannot be read might be any version: refused rather than guessed
        return self.specifier.contains(version, prereleases=True)


def parse_exemption(text: str) -> Exemption:
    """ "name" or "name==version"; ValueError with a sentence otherwise."""
    name, pinned, version = text.partition("==")
    try:
        exemption = Exemption(check_project_name(name.strip()), Version(version.strip()) if pinned else None)
    except (InvalidName, InvalidVersion):
        raise ValueError(f"{text!r} is neither a project name nor a name==version pin") from None
    return exemption


def parse_denial(text: str) -> Denial:
    """ "name" or a requirement specifier without extras, markers or URL; ValueError with a sentence otherwise."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement as error:
        reason = str(error).splitlines()[0]  # packaging adds the text again, with a caret under the fault
        raise ValueError(f"{text!r} is not a project name or a requirement specifier: {reason}") from None
    if requirement.extras or requirement.marker or requirement.url:
        raise ValueError(f"{text!r}: a deny rule names a project and versions only (no extras, markers or URL)")
    return Denial(text, check_project_name(requirement.name), requirement.specifier)


# -- the rules --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deny:
    index: str
    denials: tuple[Denial, ...]
    kind: str = "deny"
    # The denials of each project named: a page is judged by its own project's, however long the list.
    by_name: Mapping[str, tuple[Denial, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, tuple[Denial, ...]] = {}
        for denial in self.denials:
            by_name[denial.name] = (*by_name.get(denial.name, ()), denial)
        object.__setattr__(self, "by_name", by_name)

    def judge(self, project: NormalizedName, file: DistFile, now: float) -> Hold | None:
        if project not in self.by_name:
            return None
        refusal = self.refusal(project, file.version, file.filename)
        return Hold(refusal) if refusal is not None else None

    def refusal(self, project: NormalizedName, version: Version | None, filename: str) -> Refusal | None:
        """For a file listed or uploaded: the refusal of the first denial that matches it, if one does."""
        for denial in self.by_name.get(project, ()):
            if denial.matches(project, version):
                message = f"{filename} is denied by index {self.index!r}'s deny rule {denial.text!r}"
                return Refusal(self.kind, self.index, message)
        return None


@dataclass(frozen=True, slots=True)
class MinAge:
    """A cooldown: a file is offered once `seconds` have passed since its upload. The upload time is the one the
    index states (PEP 700), or the moment rennet first listed the file, whichever is earlier: a time stated later
    than rennet saw the file is not believed, and a time rennet made up itself (on download, for a file whose
    upstream states none) never makes a file offered before disappear again."""

    index: str
    seconds: float
    exempt: frozenset[Exemption] = frozenset()
    upstreams: frozenset[str] | None = None  # a group's: the proxies whose files it judges (hosted ones are not)
    kind: str = "min_age"

    def judge(self, project: NormalizedName, file: DistFile, now: float) -> Hold | None:
        if self.upstreams is not None and file.index not in self.upstreams:
            return None
        born = upload_instant(file)
        until = born + self.seconds if born is not None else NEVER
        if now >= until:
            return None  # most files of most pages: asked first, it is the cheapest question
        if self.exempt and any(exemption.covers(project, file.version) for exemption in self.exempt):
            return None
        rule = f"{file.filename} is held back by index {self.index!r}'s min_age of {describe_duration(self.seconds)}"
        if born is None:
            return Hold(Refusal(self.kind, self.index, f"{rule}: its upload time is unknown"))
        message = f"{rule}: it was {_how_born(file, born)} and may be installed from {timestamp(until)}"
        return Hold(Refusal(self.kind, self.index, message), until)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An index as it was at `instant`: the files uploaded at or before it (by the upload time MinAge reads), as
    they are now (yanked or not)."""

    index: str
    instant: float
    kind: str = "snapshot"

    def judge(self, project: NormalizedName, file: DistFile, now: float) -> Hold | None:
        born = upload_instant(file)
        if born is not None and born <= self.instant:
            return None
        when = "at an unknown time" if born is None else _how_born(file, born)
        message = f"{file.filename} is not in the snapshot of index {self.index!r} at {timestamp(self.instant)}"
        return Hold(Refusal(self.kind, self.index, f"{message}: it was {when}"))


def upload_instant(file: DistFile) -> float | None:
    """When a file was uploaded, as policy reads it: the time its index states (PEP 700) or the moment rennet
    first listed it, whichever is earlier; None when neither is known."""
    stated = file.upload_time.timestamp() if file.upload_time is not None else None
    seen = file.first_seen.timestamp() if file.first_seen is not None else None
    return min((t for t in (stated, seen) if t is not None), default=None)


def _how_born(file: DistFile, born: float) -> str:
    stated = file.upload_time is not None and file.upload_time.timestamp() == born
    return f"{'uploaded' if stated else 'first seen by rennet (its index states no upload time)'} {timestamp(born)}"


def parse_instant(text: str) -> float:
    """Seconds since the epoch from RFC 3339 ("2026-12-01T10:00:00Z", any offset) or a date ("2026-12-01": its
    first instant, in UTC); ValueError with a sentence otherwise."""
    try:
        moment = datetime.fromisoformat(text.upper())  # RFC 3339 allows "t" and "z"; Python 3.11 does not
    except ValueError:
        moment = None
    if moment is not None and len(text) == 10:  # a date alone
        return moment.replace(tzinfo=UTC).timestamp()
    if moment is None or moment.tzinfo is None or "T" not in text.upper():
        example = "an RFC 3339 time with its offset (2026-12-01T10:00:00Z) nor a date (2026-12-01)"
        raise ValueError(f"{text[:64]!r} is neither {example}")
    return moment.timestamp()


# -- an index's policy ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Screened:
    """A page as the policy lets it be seen: the files hidden and why, and when that may change by itself."""

    page: ProjectPage
    hidden: Mapping[str, Refusal]
    changes_at: float = NEVER


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules of one index, in the order they are asked (the first that holds a file back is named)."""

    rules: tuple[Rule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def screen(self, page: ProjectPage, now: float) -> Screened:
        visible: list[DistFile] = []
        hidden: dict[str, Refusal] = {}
        changes_at = NEVER
        for file in page.files:
            hold = self._judge(page.name, file, now)
            if hold is None:
                visible.append(file)
            else:
                hidden[file.filename] = hold.refusal
                changes_at = min(changes_at, hold.until)
        if not hidden:
            return Screened(page, hidden)
        return Screened(page.with_files(tuple(visible)), hidden, changes_at)

    @property
    def unlisted(self) -> frozenset[str]:
        """Projects denied whole ("name", no versions): left out of the index's project list too."""
        return frozenset(
            d.name for rule in self.rules if isinstance(rule, Deny) for d in rule.denials if not d.specifier
        )

    def upload_refusal(self, project: NormalizedName, version: Version | None, filename: str) -> Refusal | None:
        """Why an upload of this file is refused, if it is: only `deny` judges uploads (a new upload's age is
        zero, and a cooldown holds it back from installers, not from its index)."""
        for rule in self.rules:
            if isinstance(rule, Deny) and (refusal := rule.refusal(project, version, filename)) is not None:
                return refusal
        return None

    def _judge(self, project: NormalizedName, file: DistFile, now: float) -> Hold | None:
        for rule in self.rules:
            if (hold := rule.judge(project, file, now)) is not None:
                return hold
        return None


def timestamp(seconds: float, exact: bool = False) -> str:
    """RFC 3339 in UTC, to the second, as people read it in a message; `exact`: with the microseconds when it
    has some (a snapshot's instant in its URLs)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if exact and moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def describe_duration(seconds: float) -> str:
    """ "7 days", "36 hours", "90 minutes": the largest unit that divides the duration, for messages."""
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"
