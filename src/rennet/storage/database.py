"""The database engine: SQLite in the data directory by default, PostgreSQL (psycopg 3 or psycopg2) by choice.

Failures of the database itself (refused or broken connections, a locked or unreadable SQLite file) come out of
every query as DatabaseUnavailable, whatever the driver, so that the services can tell "try again shortly" from
a fault of rennet's. The schema is migrated by one process at a time: an advisory lock on PostgreSQL (servers
on several hosts may share the database), a file lock in the data directory on SQLite. Alembic is imported only
when there is something to migrate: a database at SCHEMA_HEAD is recognized with one query.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, func, select, text
from sqlalchemy.engine import ExceptionContext, make_url

from rennet.storage.errors import StorageFull

__all__ = [
    "SCHEMA_HEAD",
    "DatabaseUnavailable",
    "SchemaTooNew",
    "backup_sqlite",
    "connect",
    "migrate",
    "schema_revision",
    "sqlite_path",
]

_MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions: a database at it is left alone without importing Alembic, which
# would cost every command a fifth of a second. tests/unit/test_schema_head.py fails while a new migration is
# not named here.
SCHEMA_HEAD = "0013"
# Any constant both sides agree on: pg_advisory_xact_lock takes a 64-bit key ("rennet" in ASCII).
_MIGRATION_LOCK = 0x72656E6E6574
CONNECT_TIMEOUT = 5  # seconds: a database host that does not answer must not hold requests for long


class DatabaseUnavailable(Exception):
    """The database cannot be used right now (down, unreachable, locked); the cause is in the message."""


class SchemaTooNew(Exception):
    """The database was migrated by a newer rennet than this one."""


def connect(url: str) -> Engine:
    engine: Engine
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        options: dict[str, Any] = {}
        if backend == "postgresql":
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
        # pre_ping: a connection broken while pooled (the database restarted) is replaced, not handed out.
        engine = create_engine(url, pool_pre_ping=True, **options)
    event.listen(engine, "handle_error", _unavailable)
    return engine


def _unavailable(context: ExceptionContext) -> BaseException | None:
    """Errors of the database server or file, as opposed to errors in rennet's statements, become one type; a
    full disk another."""
    error = context.sqlalchemy_exception
    original = context.original_exception
    if getattr(original, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or _sqlstate(original) == _DISK_FULL:
        return StorageFull("no space left to write to the database")
    if context.is_disconnect or isinstance(error, exc.OperationalError | exc.InterfaceError):
        cause = str(original).strip().splitlines()
        return DatabaseUnavailable(cause[0] if cause else type(original).__name__)
    return None


_DISK_FULL = "53100"  # PostgreSQL's SQLSTATE for "disk full"


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a PostgreSQL error: psycopg 3 calls it sqlstate, psycopg2 pgcode."""
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # busy_timeout waits instead of failing with "database is locked"; WAL lets readers proceed during a write.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _write_ahead_log(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_WAL_ATTEMPTS = 100


def _write_ahead_log(cursor: Any) -> None:
    """Switch a new database file to WAL (the mode is kept in the file, so later connections find it set).
    Connections opening a new file at once can deadlock over the switch, and SQLite then answers "locked"
    at once, without waiting for busy_timeout: the loser tries again after a pause."""
    for attempt in range(_WAL_ATTEMPTS):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (1 + attempt % 10))


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL; None for another database."""
    parsed = make_url(url)
    return Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None


def migrate(engine: Engine, lock_path: Path) -> None:
    """Bring the schema up to date, or raise SchemaTooNew. One process at a time: the others wait, then find
    nothing left to do. A database at SCHEMA_HEAD already (every start but the first on a new database or after
    an upgrade of rennet) is only read: no lock, no Alembic."""
    with engine.connect() as connection:
        if schema_revision(connection) == SCHEMA_HEAD:
            return
    if engine.dialect.name == "postgresql":
        # A transaction-level advisory lock: released by the commit (or the rollback) of the migration itself.
        with engine.begin() as connection:
            connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            _upgrade(connection)
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with engine.begin() as connection:
            _upgrade(connection)


def _upgrade(connection: Connection) -> None:
    # Imported here, when there is something to do: Alembic costs a fifth of a second and 10 MB per process.
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    current = schema_revision(connection)
    known = {revision.revision for revision in scripts.walk_revisions()}
    if current is not None and current not in known:
        head = scripts.get_current_head()
        raise SchemaTooNew(f"this database has schema {current}; this rennet knows up to {head}; upgrade rennet")
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def schema_revision(connection: Connection) -> str | None:
    """The revision the database was migrated to, or None for a new database."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return max(found) if found else None


def backup_sqlite(database: Path, target: Path) -> int:
    """A consistent copy of a SQLite database, made while other processes read and write it (SQLite's online
    backup); written beside `target` and renamed into place, so no partial copy is ever visible. Returns its
    size in bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as temporary:
        partial = Path(temporary.name)
    try:
        source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        try:
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, without -wal beside it
            finally:
                copy.close()
        finally:
            source.close()
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size
