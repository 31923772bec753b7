"""Which catalog a test's servers use: SQLite in their data directories, or PostgreSQL (psycopg 3 or psycopg2).

Tests that use the `database` fixture run once per catalog (see tests/conftest.py); every server they start gets
a database of its own.
"""

from __future__ import annotations

from tests.support.postgres import PostgresServer

__all__ = ["SQLITE", "Database"]

SQLITE = "sqlite"
DRIVERS = {"psycopg": "psycopg", "psycopg2": "psycopg2", "postgresql": "psycopg"}


class Database:
    def __init__(self, kind: str, postgres: PostgresServer | None = None) -> None:
        self.kind = kind
        self.postgres = postgres

    @property
    def is_postgres(self) -> bool:
        return self.kind != SQLITE

    def new_url(self) -> str | None:
        """A fresh, empty catalog for one server: None for SQLite (the server makes one in its data directory)."""
        if self.postgres is None:
            return None
        return self.postgres.create_database(DRIVERS[self.kind])

    def __repr__(self) -> str:
        return f"Database({self.kind})"
