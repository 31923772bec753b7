"""Which catalog a test's servers use: SQLite in their data directories, or PostgreSQL (psycopg 3 or psycopg2).

Tests that use the `database` fixture run once per catalog (see tests/conftest.py); every server they start gets
a database of its own. It starts as a copy of one migrated once per session (the migrations themselves are tested
in tests/service/test_database.py): each server then finds its schema current, as after an upgrade. A database
taken is given back once its server has stopped (emptied, it goes to the next one): `server_catalog` and
`catalog` do that at the end of their block.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.postgres import PostgresServer

__all__ = ["SQLITE", "Database", "migrated_sqlite"]

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
        """A fresh catalog for one server: None for SQLite (the server has one in its data directory)."""
        if self.postgres is None:
            return None
        return _pool(self.postgres).take(DRIVERS[self.kind])

    def release(self, url: str | None) -> None:
        """The server on `url` has stopped: its database may be emptied and given to the next one."""
        if self.postgres is not None and url is not None:
            _pool(self.postgres).give_back(url)

    @contextlib.contextmanager
    def server_catalog(self) -> Iterator[str | None]:
        """new_url() for one server (None: SQLite in its data directory), given back when the block ends: stop the
        server inside it."""
        url = self.new_url()
        try:
            yield url
        finally:
            self.release(url)

    @contextlib.contextmanager
    def catalog(self, directory: Path) -> Iterator[str]:
        """A catalog's URL for code that connects to it itself, not through a server: on PostgreSQL a database of
        new_url() (migrated already), given back when the block ends (dispose of its engines inside it); on
        SQLite a new file in `directory`, not migrated yet. migrate() makes either current."""
        url = self.new_url()
        try:
            yield url or f"sqlite:///{directory / 'rennet.sqlite3'}"
        finally:
            self.release(url)

    @contextlib.contextmanager
    def empty_catalog(self, directory: Path) -> Iterator[str]:
        """A catalog never migrated, as a new installation's: on PostgreSQL a new empty database, dropped when the
        block ends (dispose of its engines inside it); on SQLite a new file in `directory`."""
        if self.postgres is None:
            path = directory / "rennet.sqlite3"
            assert not path.exists(), f"{path} is not new"
            yield f"sqlite:///{path}"
            return
        url = self.postgres.create_database(DRIVERS[self.kind])
        try:
            yield url
        finally:
            self.postgres.drop_database(url.rsplit("/", 1)[1])

    def __repr__(self) -> str:
        return f"Database({self.kind})"


# Every table of the catalog but alembic_version: what a server writes (project_search too, emptied with projects
# by CASCADE). tests/unit/test_schema_head.py checks that a new table is named here.
_TABLES = (
    "projects, versions, files, listings, users, tokens, generations, transfers, login_failures, mirror_projects, "
    "advisories"
)


class _Pool:
    """Migrated databases for one session. Making one (a copy of the template: about 8 MB of system catalogs)
    costs more than most tests; emptying a used one with TRUNCATE costs a few milliseconds."""

    def __init__(self, postgres: PostgresServer) -> None:
        self.postgres = postgres
        self.idle: list[str] = []

    def take(self, driver: str) -> str:
        if self.idle:
            return self.postgres.url(self.idle.pop(), driver)
        return self.postgres.create_database(driver, template=_migrated_template(self.postgres)[0])

    def give_back(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.postgres.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE", database=name)
        # A test may have pretended that a newer rennet migrated it.
        revision = _migrated_template(self.postgres)[1]
        self.postgres.execute(f"UPDATE alembic_version SET version_num = '{revision}'", database=name)
        self.idle.append(name)


@functools.cache
def _pool(postgres: PostgresServer) -> _Pool:
    return _Pool(postgres)


@functools.cache
def _migrated_template(postgres: PostgresServer) -> tuple[str, str]:
    """The name of a database migrated to the newest schema, and that schema's revision."""
    from rennet.storage.database import connect, migrate, schema_revision

    name = f"rennet_template_{os.getpid()}"
    url = postgres.create_database()
    engine = connect(url)
    try:
        migrate(engine, Path(tempfile.gettempdir()) / "rennet-template.lock")
        with engine.connect() as connection:
            revision = schema_revision(connection)
    finally:
        engine.dispose()  # a template must have no connections when it is copied
    assert revision is not None
    postgres.rename_database(url.rsplit("/", 1)[1], name)
    return name, revision


@functools.cache
def _sqlite_template() -> Path:
    from rennet.storage.database import connect, migrate

    directory = Path(tempfile.mkdtemp(prefix="rennet-template-"))
    engine = connect(f"sqlite:///{directory / 'rennet.sqlite3'}")
    try:
        migrate(engine, directory / "migrate.lock")
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return directory / "rennet.sqlite3"


def migrated_sqlite(data_dir: Path) -> None:
    """Give a new data directory a migrated catalog (a server that finds one keeps it)."""
    target = data_dir / "rennet.sqlite3"
    if not target.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_sqlite_template(), target)
