"""Choosing the files of one project for one target, the way pip would choose them there.

Two steps: `candidates` applies what does not depend on the target (specifier, pre-releases, pinned hashes,
yanked files) once; `pick` then finds, for one target, the newest version with a file that installs there and
the best such file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.mirror.targets import Target, requires_python_ok, wheel_tags
from rennet.domain.names import NormalizedName, parse_dist_filename

HashPins = frozenset[frozenset[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class Release:
    """The wheels and sdists of one version, in filename order."""

    version: Version
    files: tuple[DistFile, ...]


@dataclass(frozen=True, slots=True)
class Candidates:
    """Releases left after the target-independent filters, newest first, or why none are left."""

    releases: tuple[Release, ...]
    problem: str | None = None
    notes: tuple[str, ...] = ()
    unsatisfiable: bool = False  # no version satisfies the specifier at all
    label: str = ""  # the requirement, for messages


@dataclass(frozen=True, slots=True)
class Pick:
    """One target's outcome: a version and its files, or a problem."""

    version: Version | None
    files: tuple[DistFile, ...] = ()
    problem: str | None = None
    notes: tuple[str, ...] = ()
    unsatisfiable: bool = False


def releases_of(page: ProjectPage) -> tuple[Release, ...]:
    """The page's wheels and sdists grouped by version, newest first (eggs and unparsable names are skipped)."""
    grouped: dict[Version, list[DistFile]] = {}
    for file in page.listed_files:
        parsed = parse_dist_filename(file.filename)
        if parsed and parsed.version is not None and parsed.kind in {"wheel", "sdist"}:
            grouped.setdefault(parsed.version, []).append(file)
    return tuple(
        Release(v, tuple(sorted(grouped[v], key=lambda f: f.filename))) for v in sorted(grouped, reverse=True)
    )


def candidates(
    project: NormalizedName,
    releases: tuple[Release, ...],
    spec: SpecifierSet,
    pins: HashPins,
    prereleases: bool,
) -> Candidates:
    """Releases that satisfy spec, holding only files that match the hash pins and are not yanked.

    Pre-releases count when spec names one or `prereleases` is set, and otherwise only when no final release
    satisfies spec (packaging's and pip's rule). Yanked files stay only under an exact pin, for `pick` to use
    where no other file of the pinned version fits the target (PEP 592, as pip applies it per platform).
    """
    label = f"{project}{spec}" if str(spec) else project
    if not releases:
        return Candidates((), f"{project} lists no files")
    wanted = set(spec.filter((r.version for r in releases), prereleases=True if prereleases else None))
    matching = [r for r in releases if r.version in wanted]
    if not matching:
        newest = releases[0].version
        return Candidates((), f"no version of {project} satisfies {spec} (newest is {newest})", (), True)
    notes = _prerelease_notes(label, matching, spec, prereleases)
    if pins:
        matching = _kept(matching, lambda f: _hashes_ok(f, pins))
        if not matching:
            return Candidates((), f"no file of {label} matches the pinned hashes")
    if _exact_pin(spec):
        return Candidates(tuple(matching), None, notes, label=label)
    usable = _kept(matching, lambda f: not f.yanked)
    if usable:
        return Candidates(tuple(usable), None, notes, label=label)
    reasons = {f.yanked_reason for r in matching for f in r.files if f.yanked_reason}
    why = f" ({'; '.join(sorted(reasons))})" if reasons else ""
    return Candidates((), f"only yanked files match {label}{why}")


def pick(project: NormalizedName, found: Candidates, target: Target, sdists: bool, all_files: bool) -> Pick:
    """The newest candidate release with a file for target, and its best file (or every file with all_files)."""
    if found.problem:
        return Pick(None, (), found.problem, found.notes, found.unsatisfiable)
    for release in found.releases:
        best = _best_file(release, target, sdists)
        if best is None:
            continue
        if not all_files:
            files: tuple[DistFile, ...] = (best,)
        else:
            files = tuple(f for f in release.files if (sdists or _is_wheel(f)) and (best.yanked or not f.yanked))
        yanked = (f"{found.label} is yanked; used because it is pinned exactly",) if best.yanked else ()
        return Pick(release.version, files, None, (*found.notes, *yanked))
    return Pick(None, (), _why_nothing(project, found.releases[0], target, sdists), found.notes)


def _best_file(release: Release, target: Target, sdists: bool) -> DistFile | None:
    """The file pip would install on target: any file not yanked first, then any wheel before an sdist."""
    ranked: list[tuple[bool, int, str, DistFile]] = []
    for file in release.files:
        if not _python_ok(file, target):
            continue
        if _is_wheel(file):
            if (rank := _rank(file, target)) is not None:
                ranked.append((file.yanked, rank, file.filename, file))
        elif sdists:
            # .tar.gz (PEP 625) sorts before .zip.
            name = "0" if file.filename.endswith(".tar.gz") else file.filename
            ranked.append((file.yanked, 1 << 30, name, file))
    return min(ranked, key=lambda entry: entry[:3])[3] if ranked else None


def _why_nothing(project: NormalizedName, newest: Release, target: Target, sdists: bool) -> str:
    """Why the newest candidate has nothing for target: Requires-Python, or no wheel and no usable sdist."""
    fitting = [f for f in newest.files if _is_wheel(f) and _rank(f, target) is not None]
    fitting += [f for f in newest.files if not _is_wheel(f) and sdists]
    if fitting and not any(_python_ok(f, target) for f in fitting):
        requires = sorted({f.requires_python or "" for f in fitting})
        return f"{project} {newest.version} requires Python {' or '.join(requires)}, not {target.full_version}"
    has_sdist = any(not _is_wheel(f) for f in newest.files)
    tail = "sdists are off" if has_sdist and not sdists else "there is no sdist"
    return f"no wheel of {project} {newest.version} for {target} and {tail}"


def _rank(wheel: DistFile, target: Target) -> int | None:
    return target.rank(wheel_tags(wheel.filename))


def _python_ok(file: DistFile, target: Target) -> bool:
    return requires_python_ok(file.requires_python, (target,))


def _is_wheel(file: DistFile) -> bool:
    return file.filename.lower().endswith(".whl")


def _hashes_ok(file: DistFile, pins: HashPins) -> bool:
    """Every pin set (one per requirement with --hash) names a digest the index lists for the file."""
    return all(any(file.hashes.get(algorithm) == digest for algorithm, digest in pin) for pin in pins)


def _kept(releases: Iterable[Release], keep: Callable[[DistFile], bool]) -> list[Release]:
    kept = [Release(r.version, tuple(f for f in r.files if keep(f))) for r in releases]
    return [r for r in kept if r.files]


def _exact_pin(spec: SpecifierSet) -> bool:
    return any(s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*")) for s in spec)


def _prerelease_notes(label: str, matching: list[Release], spec: SpecifierSet, prereleases: bool) -> tuple[str, ...]:
    newest = matching[0].version
    if newest.is_prerelease and not prereleases and not spec.prereleases:
        return (f"pre-release {newest} used: no final release satisfies {label}",)
    return ()
