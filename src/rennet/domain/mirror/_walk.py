"""The greedy dependency walk of one target, recomputed from what is known so far.

The walk is a fixed point: from the roots, choose a version for every project whose page is known, read the
dependencies of the chosen versions (when their metadata is known), and repeat with the requirements that
produces, until the requirements stop changing. Recomputing from the roots each round means a dependency of a
version that was chosen and then replaced does not linger.

There is no backtracking. A project takes the newest version that satisfies every requirement on it; when no
version satisfies them all, requirements are taken in priority order (constraints, then the shallowest
requirer, then by requirer name) and one that would leave no version is dropped and reported as a conflict, the
way pip's old resolver warned and went on. Keeping a version in that case keeps its dependencies in the walk,
instead of letting them vanish and come back every other round.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from rennet.domain.mirror._choice import HashPins, Pick
from rennet.domain.mirror._markers import marker_holds
from rennet.domain.names import NormalizedName, canonical_name

MAX_ROUNDS = 200

Chooser = Callable[[NormalizedName, SpecifierSet, HashPins], Pick | None]
DependencyLookup = Callable[[NormalizedName, Version], tuple[Requirement, ...] | None]


@dataclass(frozen=True, slots=True)
class Need:
    """One requirement on a project, and who states it (a requirements line, a release, a constraint)."""

    project: NormalizedName
    specifier: SpecifierSet
    extras: frozenset[NormalizedName]
    hashes: frozenset[tuple[str, str]]
    requirer: str
    constraint: bool = False
    depth: int = 0  # 0 for the wanted items, 1 for their dependencies, ...
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # packaging re-canonicalizes every version of a SpecifierSet each time it is hashed, and the walk hashes
        # its Needs round after round: hash each Need once.
        fields = (self.project, self.specifier, self.extras, self.hashes, self.requirer, self.constraint, self.depth)
        object.__setattr__(self, "_hash", hash(fields))

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.project}{extras}{self.specifier} (from {self.requirer})"


@dataclass(slots=True)
class TargetWalk:
    """Where the walk of one target ended."""

    needs: dict[NormalizedName, frozenset[Need]] = field(default_factory=dict)
    picks: dict[NormalizedName, Pick] = field(default_factory=dict)
    conflicts: dict[NormalizedName, tuple[tuple[Need, ...], tuple[Need, ...]]] = field(default_factory=dict)
    settled: bool = True
    unsettled: tuple[NormalizedName, ...] = ()


class DependencyNeeds:
    """The Needs that the dependencies of chosen releases state on one target, built once per release.

    The walk recomputes every round from scratch; handing it the very same Need objects each time lets sets and
    dicts of them compare by identity instead of comparing specifiers again and again.
    """

    def __init__(self, environments: tuple[dict[str, str], ...], lookup: DependencyLookup) -> None:
        self._environments = environments
        self._lookup = lookup
        self._built: dict[tuple[object, ...], tuple[tuple[Requirement, ...], tuple[Need, ...]]] = {}

    def of(self, project: NormalizedName, version: Version, extras: tuple[str, ...], depth: int) -> Iterator[Need]:
        requirements = self._lookup(project, version)
        if requirements is None:
            return iter(())
        key = (project, version, extras, depth)
        found = self._built.get(key)
        if found is None or found[0] is not requirements:
            found = requirements, tuple(self._build(project, version, extras, depth, requirements))
            self._built[key] = found
        return iter(found[1])

    def _build(
        self,
        project: NormalizedName,
        version: Version,
        extras: tuple[str, ...],
        depth: int,
        requirements: tuple[Requirement, ...],
    ) -> Iterator[Need]:
        for requirement in requirements:
            if marker_holds(requirement.marker, self._environments, extras):
                yield Need(
                    canonical_name(requirement.name),
                    requirement.specifier,
                    frozenset(canonical_name(e) for e in requirement.extras),
                    frozenset(),
                    f"{project} {version}",
                    depth=depth,
                )


Decision = tuple[Pick | None, tuple[tuple[Need, ...], tuple[Need, ...]] | None]
Decisions = dict[NormalizedName, dict[frozenset[Need], Decision]]
"""Each project's pick (and conflict) per set of requirements on it; valid while the project's page is the same."""


def walk(
    roots: tuple[Need, ...],
    constraints: dict[NormalizedName, tuple[Need, ...]],
    choose: Chooser,
    dependencies: DependencyNeeds | None,
    decisions: Decisions | None = None,
) -> TargetWalk:
    """Walk from roots (already filtered by their markers) to a fixed point; dependencies None means roots only.

    `decisions` may carry the choices of earlier walks on the same target (and with the same constraints) over:
    between rounds and between walks most projects keep the same requirements.
    """
    needs = _grouped(roots)
    decisions = {} if decisions is None else decisions
    seen: list[dict[NormalizedName, frozenset[Need]]] = []
    for _ in range(MAX_ROUNDS):
        result = _choose_all(needs, constraints, choose, decisions)
        following = needs if dependencies is None else _grouped((*roots, *_dependency_needs(result, dependencies)))
        if following == needs:
            return result
        seen.append(needs)
        if following in seen:
            break  # the choices go round in a circle
        needs = following
    circle = seen[seen.index(following) :] if following in seen else seen[-2:]
    return TargetWalk(result.needs, result.picks, result.conflicts, False, _changing(circle))


def _changing(states: list[dict[NormalizedName, frozenset[Need]]]) -> tuple[NormalizedName, ...]:
    """Projects whose requirements differ between the given rounds."""
    projects = set().union(*states)
    return tuple(sorted(p for p in projects if len({state.get(p) for state in states}) > 1))


def _choose_all(
    needs: dict[NormalizedName, frozenset[Need]],
    constraints: dict[NormalizedName, tuple[Need, ...]],
    choose: Chooser,
    decisions: Decisions,
) -> TargetWalk:
    result = TargetWalk(needs)
    for project, group in needs.items():
        known = decisions.setdefault(project, {})
        if group not in known:
            known[group] = _decide(project, group, constraints.get(project, ()), choose)
        pick, conflict = known[group]
        if pick is None:
            continue
        result.picks[project] = pick
        if conflict:
            result.conflicts[project] = conflict
    return result


def _decide(project: NormalizedName, group: frozenset[Need], hard: tuple[Need, ...], choose: Chooser) -> Decision:
    """The pick for one project's requirements, dropping (as a conflict) each one that would leave no version."""
    pins = frozenset(n.hashes for n in (*group, *hard) if n.hashes)
    kept, dropped = list(hard), []
    spec = _merged(hard)
    for need in sorted(group, key=lambda n: (n.depth, n.requirer, str(n))):
        trial = spec & need.specifier
        if kept and str(need.specifier) and _unsatisfiable(choose(project, trial, pins)):
            dropped.append(need)
        else:
            kept.append(need)
            spec = trial
    pick = choose(project, spec, pins)
    if pick is None or not dropped:
        return pick, None
    return pick, _conflict(project, hard, kept, dropped, pins, choose)


def _conflict(
    project: NormalizedName,
    hard: tuple[Need, ...],
    kept: list[Need],
    dropped: list[Need],
    pins: HashPins,
    choose: Chooser,
) -> tuple[tuple[Need, ...], tuple[Need, ...]]:
    """(kept, dropped), where kept is empty when every dropped requirement is unsatisfiable on its own."""
    alone = [n for n in dropped if _unsatisfiable(choose(project, _merged(hard) & n.specifier, pins))]
    return (() if len(alone) == len(dropped) else tuple(kept)), tuple(dropped)


def _merged(needs: Iterable[Need]) -> SpecifierSet:
    return functools.reduce(operator.and_, (n.specifier for n in needs), SpecifierSet())


def _unsatisfiable(pick: Pick | None) -> bool:
    return pick is not None and pick.unsatisfiable


def _dependency_needs(state: TargetWalk, dependencies: DependencyNeeds) -> Iterator[Need]:
    for project, pick in state.picks.items():
        if pick.version is None:
            continue
        extras = tuple(sorted(set().union(*(n.extras for n in state.needs[project]))))
        depth = 1 + min(n.depth for n in state.needs[project])
        yield from dependencies.of(project, pick.version, extras, depth)


def _grouped(needs: Iterable[Need]) -> dict[NormalizedName, frozenset[Need]]:
    grouped: dict[NormalizedName, set[Need]] = {}
    for need in needs:
        grouped.setdefault(need.project, set()).add(need)
    return {project: frozenset(group) for project, group in grouped.items()}
