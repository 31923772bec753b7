"""What `rennet mirror` fetches: the files of each wanted project that every target environment needs.

`choose_files` answers for one project page and one wanted item. `Plan` walks dependencies greedily over several
projects without doing any I/O: it says which pages and which metadata it needs next, the caller fetches them
and hands them in, and the plan recomputes its choices. Per target, a project gets the newest version that
satisfies every requirement on it and has a file that installs there, so different targets may get different
versions (an old Python keeps the last release that supports it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.mirror._choice import Candidates, HashPins, Pick, Release, candidates, pick, releases_of
from rennet.domain.mirror._markers import marker_holds
from rennet.domain.mirror._walk import Decisions, DependencyNeeds, Need, TargetWalk, walk
from rennet.domain.mirror.requirements import WantedItem
from rennet.domain.mirror.targets import Target, marker_environments
from rennet.domain.names import NormalizedName, canonical_name, parse_dist_filename

__all__ = ["Conflict", "MirrorOptions", "Plan", "PlanResult", "Selection", "choose_files"]


@dataclass(frozen=True, slots=True)
class MirrorOptions:
    """How files are chosen.

    `sdists`: use an sdist where no wheel installs (and, with `all_files`, mirror sdists at all).
    `all_files`: every wheel and sdist of each chosen version, instead of the best file per target.
    `prereleases`: allow pre-releases even when no specifier asks for one (pip's --pre).
    `resolve`: follow dependencies; off, only the wanted items themselves are chosen.
    """

    targets: tuple[Target, ...]
    sdists: bool = True
    all_files: bool = False
    prereleases: bool = False
    resolve: bool = True

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a mirror needs at least one target environment")


@dataclass(frozen=True, slots=True)
class Selection:
    """The files chosen for one project, the versions they belong to, and why some target is left without one."""

    project: NormalizedName
    versions: tuple[Version, ...]
    files: tuple[DistFile, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class Conflict:
    """Requirements on one project that no single version satisfies on a target.

    `kept` decided the version (`chosen`); each of `dropped` would have left no version at all, and was set aside.
    `kept` is empty when the dropped requirements are unsatisfiable on their own (no release matches them).
    Requirements read like "numpy<2 (from pandas 1.5.3)" or "numpy>=2 (from requirements.txt:3)".
    """

    project: NormalizedName
    target: Target
    chosen: Version | None
    kept: tuple[str, ...]
    dropped: tuple[str, ...]

    def __str__(self) -> str:
        outcome = f"{self.project} {self.chosen} chosen" if self.chosen else f"no version of {self.project} chosen"
        dropped = "; ".join(self.dropped)
        if not self.kept:
            return f"on {self.target}, no version of {self.project} satisfies {dropped}: {outcome}"
        return f"on {self.target}, {dropped} conflicts with {'; '.join(self.kept)}: {outcome}"


@dataclass(frozen=True, slots=True)
class PlanResult:
    """Everything the walk chose, per project in name order, and everything that stops an offline install."""

    selections: tuple[Selection, ...]
    conflicts: tuple[Conflict, ...]
    errors: tuple[str, ...]
    skipped: tuple[str, ...]  # wanted items whose marker excludes every target

    @property
    def files(self) -> tuple[DistFile, ...]:
        return tuple(file for selection in self.selections for file in selection.files)

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.errors and all(s.ok for s in self.selections)


def choose_files(page: ProjectPage, item: WantedItem, options: MirrorOptions) -> Selection:
    """The files of one project that the targets need to install `item` (its dependencies aside).

    Targets excluded by the item's marker are left out; when it excludes all of them, nothing is chosen.
    """
    if page.name != item.name:
        raise ValueError(f"the page of {page.name} cannot answer for {item.name}")
    pins: HashPins = frozenset({item.hashes}) if item.hashes else frozenset()
    found = candidates(item.name, releases_of(page), item.specifier, pins, options.prereleases)
    picks: list[Pick] = []
    for target in options.targets:
        if marker_holds(item.marker, marker_environments([target])):
            picks.append(pick(item.name, found, target, options.sdists, options.all_files))
    if not picks:
        return Selection(item.name, (), (), (), (f"{item}: the marker excludes every target",))
    return _selection(item.name, picks)


def _selection(project: NormalizedName, picks: Iterable[Pick]) -> Selection:
    """One project's outcome over all targets: the union of their files, their problems and notes."""
    picks = list(picks)
    files = {file.filename: file for p in picks for file in p.files}
    return Selection(
        project,
        tuple(sorted({p.version for p in picks if p.version is not None})),
        tuple(files[name] for name in sorted(files)),
        tuple(dict.fromkeys(p.problem for p in picks if p.problem)),
        tuple(dict.fromkeys(note for p in picks for note in p.notes)),
    )


class Plan:
    """A greedy dependency walk over all targets, fed step by step by a caller that does the fetching.

    Loop: fetch the pages `next_needed()` names and `add_page` them (or `page_missing`), fetch the core metadata
    of the files `metadata_needed()` names and `add_metadata` it (or `metadata_missing`), until `done`; then
    `result()`. The result is available at any time and says what is still unknown.
    """

    def __init__(
        self, roots: Iterable[WantedItem], options: MirrorOptions, constraints: Iterable[WantedItem] = ()
    ) -> None:
        self._roots = tuple(roots)
        self._constraints = tuple(constraints)
        self._options = options
        self._releases: dict[NormalizedName, tuple[Release, ...]] = {}
        self._missing_pages: dict[NormalizedName, str] = {}
        self._requirements: dict[tuple[NormalizedName, Version], tuple[Requirement, ...]] = {}
        self._missing_metadata: dict[tuple[NormalizedName, Version], str] = {}
        self._metadata_errors: dict[tuple[NormalizedName, Version], list[str]] = {}
        self._candidates: dict[tuple[NormalizedName, frozenset[str], HashPins], Candidates] = {}
        self._picks: dict[tuple[NormalizedName, frozenset[str], HashPins, Target], Pick] = {}
        self._walks: dict[Target, TargetWalk] | None = None
        self._dependency_needs: dict[Target, DependencyNeeds] = {}
        self._decisions: dict[Target, Decisions] = {}  # forgotten per project when its page changes

    def next_needed(self) -> tuple[NormalizedName, ...]:
        """Projects whose pages the walk has reached and does not have yet."""
        reached = {project for w in self._current().values() for project in w.needs}
        return tuple(sorted(p for p in reached if p not in self._releases and p not in self._missing_pages))

    def metadata_needed(self) -> tuple[DistFile, ...]:
        """One chosen file per chosen version whose dependencies are unknown: a wheel with PEP 658 metadata if any."""
        if not self._options.resolve:
            return ()
        files: dict[tuple[NormalizedName, Version], list[DistFile]] = {}
        for w in self._current().values():
            for project, chosen in w.picks.items():
                if chosen.version is not None:
                    files.setdefault((project, chosen.version), []).extend(chosen.files)
        wanted = [
            min(found, key=_metadata_preference)
            for key, found in files.items()
            if found and key not in self._requirements and key not in self._missing_metadata
        ]
        return tuple(sorted(wanted, key=lambda f: f.filename))

    @property
    def done(self) -> bool:
        return not self.next_needed() and not self.metadata_needed()

    def add_page(self, page: ProjectPage) -> None:
        self._releases[page.name] = releases_of(page)
        self._missing_pages.pop(page.name, None)
        self._candidates = {k: v for k, v in self._candidates.items() if k[0] != page.name}
        self._picks = {k: v for k, v in self._picks.items() if k[0] != page.name}
        self._forget(page.name)

    def page_missing(self, name: str, reason: str) -> None:
        """The page cannot be had (not found upstream, an error): the project stays unresolved, with the reason."""
        self._missing_pages[canonical_name(name)] = reason
        self._forget(canonical_name(name))

    def _forget(self, project: NormalizedName) -> None:
        """The project's page changed: every choice made for it must be made again."""
        for decisions in self._decisions.values():
            decisions.pop(project, None)
        self._walks = None

    def add_metadata(self, filename: str, metadata: bytes) -> None:
        """Core metadata (METADATA or PKG-INFO) of a file: its Requires-Dist now count for its version."""
        key = _release_key(filename)
        try:
            self._requirements[key] = self._requires_dist(key, metadata, sdist=not filename.endswith(".whl"))
        except ValueError as exc:
            self._missing_metadata[key] = str(exc)
        self._walks = None

    def metadata_missing(self, filename: str, reason: str) -> None:
        self._missing_metadata[_release_key(filename)] = reason
        self._walks = None

    def result(self) -> PlanResult:
        walks = self._current()
        projects = sorted({p for w in walks.values() for p in w.needs})
        selections = tuple(self._project_selection(project, walks) for project in projects)
        conflicts = tuple(
            Conflict(project, target, w.picks[project].version, tuple(map(str, kept)), tuple(map(str, dropped)))
            for target, w in walks.items()
            for project, (kept, dropped) in sorted(w.conflicts.items())
        )
        return PlanResult(selections, conflicts, self._errors(walks), self._skipped())

    def _project_selection(self, project: NormalizedName, walks: dict[Target, TargetWalk]) -> Selection:
        if project in self._missing_pages:
            return Selection(project, (), (), (f"page of {project} unavailable: {self._missing_pages[project]}",))
        if project not in self._releases:
            return Selection(project, (), (), (f"page of {project} not fetched yet",))
        return _selection(project, (w.picks[project] for w in walks.values() if project in w.picks))

    def _errors(self, walks: dict[Target, TargetWalk]) -> tuple[str, ...]:
        chosen = {(p, c.version) for w in walks.values() for p, c in w.picks.items()}
        errors = [e for key, found in sorted(self._metadata_errors.items()) if key in chosen for e in found]
        for (project, version), reason in sorted(self._missing_metadata.items()):
            if (project, version) in chosen:
                errors.append(f"dependencies of {project} {version} unknown: {reason}")
        for target, w in walks.items():
            if not w.settled:
                errors.append(f"choices on {target} did not settle; they keep changing for {', '.join(w.unsettled)}")
        return tuple(dict.fromkeys(errors))

    def _skipped(self) -> tuple[str, ...]:
        environments = marker_environments(self._options.targets)
        return tuple(
            f"{item} ({item.origin or 'requested'}): the marker excludes every target"
            for item in self._roots
            if not marker_holds(item.marker, environments)
        )

    def _current(self) -> dict[Target, TargetWalk]:
        if self._walks is None:
            self._walks = {target: self._walk(target) for target in self._options.targets}
        return self._walks

    def _walk(self, target: Target) -> TargetWalk:
        environments = marker_environments([target])
        roots = tuple(_need(item) for item in self._roots if marker_holds(item.marker, environments))
        constraints: dict[NormalizedName, tuple[Need, ...]] = {}
        for item in self._constraints:
            if marker_holds(item.marker, environments):
                constraints[item.name] = (*constraints.get(item.name, ()), _need(item, constraint=True))

        def choose(project: NormalizedName, spec: SpecifierSet, pins: HashPins) -> Pick | None:
            if project in self._missing_pages or project not in self._releases:
                return None
            return self._pick(project, spec, pins, target)

        decisions = self._decisions.setdefault(target, {})
        if not self._options.resolve:
            return walk(roots, constraints, choose, None, decisions)
        if target not in self._dependency_needs:
            self._dependency_needs[target] = DependencyNeeds(environments, self._requirements_of)
        return walk(roots, constraints, choose, self._dependency_needs[target], decisions)

    def _pick(self, project: NormalizedName, spec: SpecifierSet, pins: HashPins, target: Target) -> Pick:
        """Memoized: the walk asks the same questions round after round."""
        # str(spec) would canonicalize every version on every call: the specifiers' own texts make a cheap key.
        key = (project, frozenset(map(str, spec)), pins)
        if key not in self._candidates:
            self._candidates[key] = candidates(
                project, self._releases[project], spec, pins, self._options.prereleases
            )
        if (*key, target) not in self._picks:
            options = self._options
            self._picks[(*key, target)] = pick(
                project, self._candidates[key], target, options.sdists, options.all_files
            )
        return self._picks[(*key, target)]

    def _requirements_of(self, project: NormalizedName, version: Version) -> tuple[Requirement, ...] | None:
        return self._requirements.get((project, version))

    def _requires_dist(
        self, key: tuple[NormalizedName, Version], metadata: bytes, *, sdist: bool
    ) -> tuple[Requirement, ...]:
        """The usable Requires-Dist of metadata; ValueError when the metadata cannot stand for the release."""
        project, version = key
        errors = self._metadata_errors[key] = []
        raw, _ = parse_email(metadata)
        if canonical_name(raw.get("name") or "") != project:
            raise ValueError(f"the metadata names project {raw.get('name')!r}")
        if "requires-dist" in {field.lower() for field in raw.get("dynamic", [])}:
            raise ValueError("Requires-Dist is dynamic (computed when the sdist is built)")
        if sdist and not _binding_sdist_metadata(raw.get("metadata_version")):
            # Before PEP 643 an sdist's PKG-INFO promises nothing: installers build the sdist to learn its
            # dependencies, and an empty or stale Requires-Dist there would silently leave them out.
            raise ValueError(
                f"the sdist's PKG-INFO has metadata version {raw.get('metadata_version')}: "
                "before 2.2 it does not bind Requires-Dist (the sdist must be built to know its dependencies)"
            )
        found: list[Requirement] = []
        for text in raw.get("requires_dist", []):
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                errors.append(f"{project} {version}: invalid Requires-Dist {text!r} ignored")
                continue
            if requirement.url:
                errors.append(
                    f"{project} {version} depends on {requirement.name} @ {requirement.url}: "
                    "direct URL references cannot be mirrored"
                )
                continue
            found.append(requirement)
        return tuple(found)


def _binding_sdist_metadata(metadata_version: str | None) -> bool:
    """Whether an sdist's PKG-INFO states its fields for good: metadata 2.2 and later (PEP 643)."""
    try:
        return Version(metadata_version or "0") >= Version("2.2")
    except InvalidVersion:
        return False


def _need(item: WantedItem, *, constraint: bool = False) -> Need:
    requirer = str(item.origin) if item.origin else "requested"
    return Need(item.name, item.specifier, item.extras, item.hashes, requirer, constraint)


def _release_key(filename: str) -> tuple[NormalizedName, Version]:
    parsed = parse_dist_filename(filename)
    if parsed is None or parsed.version is None:
        raise ValueError(f"{filename!r} is not the name of a wheel or sdist")
    return parsed.project, parsed.version


def _metadata_preference(file: DistFile) -> tuple[int, str]:
    """Wheels with a PEP 658 .metadata file first, then other wheels, then sdists (whose metadata may lie)."""
    if file.filename.endswith(".whl"):
        return (0 if file.core_metadata is not None else 1), file.filename
    return 2, file.filename
