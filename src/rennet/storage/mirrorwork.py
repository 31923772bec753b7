"""The work list of one mirror sync: the upstream's listing beside the catalog's rows, joined on disk.

PyPI lists some 700,000 projects. Holding them (and the catalog's rows) as Python objects would cost hundreds of
megabytes, so both go into a temporary SQLite file, which the sync reads back through cursors: what to fetch
(listed projects in scope, with what the catalog remembers of them) and what is gone (remembered, no longer
listed). Memory stays flat whatever the upstream's size; the file is removed when the sync ends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from rennet.storage.mirrorstate import StoredState

__all__ = ["WorkList"]

_BATCH = 5000


class WorkList:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE listed (name TEXT PRIMARY KEY, serial INTEGER, wanted INTEGER NOT NULL);"
            "CREATE TABLE stored (name TEXT PRIMARY KEY, serial INTEGER, scope TEXT NOT NULL, failed INTEGER);"
        )

    def __enter__(self) -> WorkList:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._path.unlink(missing_ok=True)

    def add_listed(self, entries: Iterable[tuple[str, int | None, bool]]) -> int:
        """(normalized name, serial, in scope) of each listed project; a name listed twice keeps its last serial."""
        count = 0
        batch: list[tuple[str, int | None, bool]] = []
        for entry in entries:
            batch.append(entry)
            if len(batch) >= _BATCH:
                count += self._insert("INSERT OR REPLACE INTO listed VALUES (?, ?, ?)", batch)
        count += self._insert("INSERT OR REPLACE INTO listed VALUES (?, ?, ?)", batch)
        return count

    def add_stored(self, states: Iterable[StoredState]) -> None:
        rows = [(s.name, s.serial, s.scope, s.error is not None) for s in states]
        self._insert("INSERT OR REPLACE INTO stored VALUES (?, ?, ?, ?)", rows)

    def _insert(self, statement: str, batch: list[Any]) -> int:
        if not batch:
            return 0
        with self._db:
            self._db.executemany(statement, batch)
        size = len(batch)
        batch.clear()
        return size

    def wanted(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM listed WHERE wanted").fetchone()[0])

    def in_scope(self) -> Iterator[tuple[str, int | None, tuple[int | None, str, bool] | None]]:
        """Listed projects in scope, in name order: (name, listed serial, (serial, scope, failed) remembered)."""
        cursor = self._db.execute(
            "SELECT l.name, l.serial, s.name IS NOT NULL, s.serial, s.scope, s.failed "
            "FROM listed l LEFT JOIN stored s ON s.name = l.name WHERE l.wanted ORDER BY l.name"
        )
        while rows := cursor.fetchmany(500):
            for name, serial, known, stored_serial, scope, failed in rows:
                yield name, serial, (stored_serial, scope, bool(failed)) if known else None

    def gone(self) -> list[str]:
        """Remembered projects the upstream no longer lists (few: removals between two syncs)."""
        query = "SELECT s.name FROM stored s LEFT JOIN listed l ON l.name = s.name WHERE l.name IS NULL"
        return [row[0] for row in self._db.execute(query)]
