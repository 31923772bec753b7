"""The catalog's security advisories: imported in one transaction, read per project. Blocking calls."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine, delete, func, insert, select

from rennet.domain.advisories import Advisory, from_row, to_row
from rennet.domain.names import NormalizedName
from rennet.storage.schema import advisories as table

__all__ = ["AdvisoryCatalog", "Imported"]

_BATCH = 1000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import changed: rows added, replaced (changed) and removed, and the projects they concern."""

    added: int
    changed: int
    removed: int
    projects: frozenset[NormalizedName]


class AdvisoryCatalog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def replace(self, records: Sequence[tuple[str, list[Advisory]]]) -> Imported:
        """Each record's advisories (by record id) instead of what the catalog held for that id: a project a
        record no longer names loses the record's advisory. All in one transaction: nothing is half applied."""
        new = {(a.id, a.project): to_row(a) for _, found in records for a in found}
        ids = {ident for ident, _ in records}
        with self._engine.begin() as connection:
            old = {}
            for chunk in _chunks(sorted(ids)):
                for row in connection.execute(select(table).where(table.c.id.in_(chunk))).mappings():
                    old[(row["id"], row["project"])] = dict(row)
            gone = [key for key in old if key not in new]
            changed = [key for key, row in new.items() if key in old and old[key] != row]
            added = [key for key in new if key not in old]
            for key in gone + changed:
                connection.execute(delete(table).where(table.c.id == key[0], table.c.project == key[1]))
            rows = [new[key] for key in changed + added]
            for batch in _chunks(rows):
                connection.execute(insert(table), batch)
        projects = frozenset(NormalizedName(project) for _, project in gone + changed + added)
        return Imported(len(added), len(changed), len(gone), projects)

    def for_project(self, project: str) -> list[Advisory]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(table).where(table.c.project == project).order_by(table.c.id))
            return [from_row(dict(row)) for row in rows.mappings()]

    def every(self, malicious_only: bool = False) -> list[Advisory]:
        query = select(table).order_by(table.c.project, table.c.id)
        if malicious_only:
            query = query.where(table.c.malicious.is_(True))
        with self._engine.connect() as connection:
            return [from_row(dict(row)) for row in connection.execute(query).mappings()]

    def projects(self) -> frozenset[str]:
        """The projects that have advisories."""
        with self._engine.connect() as connection:
            return frozenset(connection.execute(select(table.c.project).distinct()).scalars())

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _chunks(items: list[T]) -> Iterable[list[T]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]
