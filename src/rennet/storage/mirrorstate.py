"""How far a full mirror got: one row per project of a proxy's mirror (table mirror_projects).

A project's row is written when its sync ends, with the upstream serial and scope it now matches, or with the
failure to retry: an interrupted sync resumes where it stopped, and nothing grows inside a single value. Rows are
read in batches of names, never all at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rennet.storage.schema import mirror_projects

__all__ = ["MirrorStates", "StoredState"]

_BATCH = 2000


@dataclass(frozen=True, slots=True)
class StoredState:
    name: str
    serial: int | None
    scope: str
    error: str | None


class MirrorStates:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def batches(self, index: str) -> Iterator[list[StoredState]]:
        """Every project of the index's mirror, a batch of names at a time (keyset: each batch one query)."""
        after = ""
        table = mirror_projects.c
        while True:
            query = (
                select(table.name, table.serial, table.scope, table.error)
                .where(table.index_name == index, table.name > after)
                .order_by(table.name)
                .limit(_BATCH)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            yield [StoredState(r.name, r.serial, r.scope, r.error) for r in rows]
            after = rows[-1].name

    def count(self, index: str) -> int:
        query = select(func.count()).select_from(mirror_projects).where(mirror_projects.c.index_name == index)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def synced(self, index: str, name: str, serial: int | None, scope: str, now: float) -> None:
        self._put(index, name, {"serial": serial, "scope": scope, "synced_at": now, "error": None})

    def failed(self, index: str, name: str, error: str, scope: str, now: float) -> None:
        """The project is retried next time; the serial it last matched stays."""
        self._put(index, name, {"scope": scope, "synced_at": now, "error": error[:2000]})

    def forget(self, index: str, name: str) -> None:
        table = mirror_projects.c
        with self.engine.begin() as conn:
            conn.execute(delete(mirror_projects).where(table.index_name == index, table.name == name))

    def _put(self, index: str, name: str, values: dict[str, object]) -> None:
        table = mirror_projects.c
        where = (table.index_name == index, table.name == name)
        with self.engine.begin() as conn:
            if conn.execute(update(mirror_projects).where(*where).values(**values)).rowcount:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(mirror_projects).values(index_name=index, name=name, **values))
        except IntegrityError:  # another sync of the same index wrote it in between
            with self.engine.begin() as conn:
                conn.execute(update(mirror_projects).where(*where).values(**values))
