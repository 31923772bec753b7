"""Copying a catalog into another database (a single host's SQLite into PostgreSQL), resumably.

Rows keep their ids, so the copy refers to the same rows as the source. Each table is copied in id order, in
batches, with INSERT ... ON CONFLICT DO NOTHING: a copy broken off is resumed by running it again, and what was
copied before is left as it is. Afterwards PostgreSQL's id sequences continue after the largest id copied, and
the row counts of both sides are compared. What only describes the moment (change counters, transfer leases,
failed logins) or the old data directory (rendered project lists) is not copied, nor are security advisories:
`rennet advisories import` them again, from their source.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.dialects.postgresql import insert

from rennet.storage.schema import files, projects, tokens, users, versions
from rennet.storage.search import index_projects

__all__ = ["COPIED", "copy_catalog", "count_rows"]

# Parents before children. Upstream project lists (listings) are not copied: they name files rendered in the old
# data directory, and a proxy fetches its list again when asked.
COPIED: tuple[Table, ...] = (projects, versions, files, users, tokens)
_BATCH = 1000


def copy_catalog(source: Engine, target: Engine, progress: Callable[[str, int], None] = lambda _t, _n: None) -> None:
    """Copy every row of COPIED from `source` into `target` (a PostgreSQL database at the same schema)."""
    for table in COPIED:
        after = -1
        while True:
            with source.connect() as connection:
                query = select(table).where(table.c.id > after).order_by(table.c.id).limit(_BATCH)
                rows = [dict(row._mapping) for row in connection.execute(query)]
            if not rows:
                break
            with target.begin() as connection:
                connection.execute(insert(table).on_conflict_do_nothing(index_elements=[table.c.id]), rows)
                if table is projects:  # the target's search index learns of them as the catalog's writes would
                    index_projects(connection, [(row["id"], row["name"], row["summary"]) for row in rows])
            after = rows[-1]["id"]
            progress(table.name, len(rows))
        with target.begin() as connection:
            # The next id PostgreSQL hands out must not be one the copy took.
            largest = connection.execute(select(func.max(table.c.id))).scalar_one() or 0
            sequence = func.pg_get_serial_sequence(table.name, "id")
            connection.execute(select(func.setval(sequence, largest + 1, False)))


def count_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in COPIED
        }
