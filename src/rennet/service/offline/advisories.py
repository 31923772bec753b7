"""`rennet advisories import`: OSV records from JSON files and zips of them (as OSV publishes an ecosystem's
records: one JSON file per record) into the catalog.

Every record is read and checked first; a malformed one is reported with where it was found and its id, and left
out. Then everything that was read is applied in one transaction, so nothing is half applied, and the pages of the
projects whose advisories changed are rebuilt by every worker (their generations bumped).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rennet.domain.advisories import ADVISORIES_SLOT, Advisory, InvalidAdvisory, parse_osv
from rennet.storage.advisories import Imported
from rennet.storage.generations import slot_of
from rennet.storage.store import Store

__all__ = ["AdvisoryImport", "Skipped", "import_advisories"]

MAX_RECORD_BYTES = 16 << 20  # the largest OSV records are well under a megabyte


@dataclass(frozen=True, slots=True)
class Skipped:
    where: str  # the file, and the member of a zip
    ident: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.where}" + (f" ({self.ident})" if self.ident else "") + f": {self.reason}"


@dataclass(slots=True)
class AdvisoryImport:
    records: int = 0  # read and applied
    skipped: list[Skipped] = field(default_factory=list)
    imported: Imported | None = None


def import_advisories(store: Store, indexes: Iterable[str], paths: Sequence[Path]) -> AdvisoryImport:
    report = AdvisoryImport()
    records: list[tuple[str, list[Advisory]]] = []
    seen: dict[str, str] = {}
    for where, data in _documents(paths, report.skipped):
        ident = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
        try:
            advisories = parse_osv(data)
        except InvalidAdvisory as error:
            report.skipped.append(Skipped(where, ident, str(error)))
            continue
        assert ident is not None
        if ident in seen:
            report.skipped.append(Skipped(where, ident, f"the same id as {seen[ident]}, which was read first"))
            continue
        seen[ident] = where
        records.append((ident, advisories))
    report.records = len(records)
    report.imported = store.advisories.replace(records)
    names = list(indexes)
    changed = {slot_of(index, project) for project in report.imported.projects for index in names}
    if changed:
        changed.add(slot_of(*ADVISORIES_SLOT))
    for slot in changed:
        store.generations.bump(slot)
    return report


def _documents(paths: Sequence[Path], skipped: list[Skipped]) -> Iterator[tuple[str, Any]]:
    """(where, parsed JSON) of every record; files and members that cannot be read go to `skipped`."""
    for path in paths:
        try:
            if zipfile.is_zipfile(path):
                yield from _members(path, skipped)
            elif path.stat().st_size > MAX_RECORD_BYTES:
                skipped.append(Skipped(str(path), None, f"larger than {MAX_RECORD_BYTES >> 20} MiB"))
            else:
                yield from _records(str(path), path.read_bytes())
        except (OSError, zipfile.BadZipFile) as error:
            reason = getattr(error, "strerror", None) or str(error)
            skipped.append(Skipped(str(path), None, f"cannot be read: {reason}"))
        except ValueError as error:
            skipped.append(Skipped(str(path), None, str(error)))


def _records(where: str, data: bytes) -> Iterator[tuple[str, Any]]:
    """One record, or a JSON list of them."""
    parsed = _parsed(data)
    if isinstance(parsed, list):
        for number, record in enumerate(parsed):
            yield f"{where}[{number}]", record
    else:
        yield where, parsed


def _members(path: Path, skipped: list[Skipped]) -> Iterator[tuple[str, Any]]:
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if member.is_dir() or not member.filename.endswith(".json"):
                continue
            where = f"{path}:{member.filename}"
            if member.file_size > MAX_RECORD_BYTES:
                skipped.append(Skipped(where, None, f"larger than {MAX_RECORD_BYTES >> 20} MiB"))
                continue
            try:
                yield from _records(where, archive.read(member))
            except ValueError as error:
                skipped.append(Skipped(where, None, str(error)))


def _parsed(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from None
