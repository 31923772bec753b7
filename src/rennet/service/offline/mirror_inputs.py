"""What `rennet mirror` is asked to fetch, read from disk: requirements files, pylock.toml, uv.lock, and
requirements given on the command line.

A file that cannot be read, or an entry that cannot be mirrored, becomes a problem of its own; everything else
still counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rennet.domain.mirror import (
    InvalidLockfile,
    LockedFiles,
    ParsedRequirements,
    Target,
    parse_requirements,
    parse_requirements_text,
    read_pylock,
    read_uv_lock,
    select_for_targets,
)
from rennet.service.offline.mirror import LockedItem, MirrorInputs

__all__ = ["COMMAND_LINE", "ReadInputs", "read_inputs"]

COMMAND_LINE = "command line"  # the "file" of requirements given as arguments; their "line" is their position


@dataclass(frozen=True, slots=True)
class ReadInputs:
    inputs: MirrorInputs
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    prereleases: bool  # --pre in a requirements file


def read_inputs(
    targets: Sequence[Target],
    *,
    requirements: Iterable[Path] = (),
    pylocks: Iterable[Path] = (),
    uv_locks: Iterable[Path] = (),
    names: Sequence[str] = (),
    sdists: bool = True,
    environ: Mapping[str, str] | None = None,
) -> ReadInputs:
    """Everything the inputs ask for; lock files narrowed to the files that install on the targets."""
    parsed = [parse_requirements(str(path), _read, environ=environ) for path in requirements]
    problems: list[str] = []
    if names:
        bad = [n for n in names if "\n" in n or n.startswith("-")]
        problems += [f"{COMMAND_LINE}: {n!r} is not a requirement" for n in bad]
        text = "".join(f"{n}\n" if n not in bad else "\n" for n in names)
        parsed.append(parse_requirements_text(text, COMMAND_LINE, environ=environ))
    problems += [str(error) for p in parsed for error in p.errors]
    locked: list[LockedItem] = []
    for readers, paths in ((read_pylock, pylocks), (read_uv_lock, uv_locks)):
        for path in paths:
            found, why = _lock(path, readers)
            if found is None:
                problems.append(why)
                continue
            problems += [str(error) for error in found.errors]
            locked += [LockedItem(str(path), file) for file in select_for_targets(found, targets, sdists=sdists)]
    return ReadInputs(
        _inputs(parsed, locked),
        tuple(problems),
        tuple(str(note) for p in parsed for note in p.notes),
        any(p.allow_prereleases for p in parsed),
    )


def _inputs(parsed: list[ParsedRequirements], locked: list[LockedItem]) -> MirrorInputs:
    """Hash-pinned requirements are complete already (pip's hash-checking mode pins every dependency)."""
    items = [item for p in parsed for item in p.items]
    return MirrorInputs(
        items=tuple(item for item in items if not item.hashes),
        complete=tuple(item for item in items if item.hashes),
        constraints=tuple(item for p in parsed for item in p.constraints),
        locked=tuple(locked),
    )


def _lock(path: Path, reader: Callable[[str, str], LockedFiles]) -> tuple[LockedFiles | None, str]:
    try:
        return reader(_read(str(path)), str(path)), ""
    except OSError as error:
        return None, f"cannot read {path}: {error.strerror or error}"
    except UnicodeError as error:
        return None, f"cannot read {path}: {error}"
    except InvalidLockfile as error:
        return None, str(error)


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")
