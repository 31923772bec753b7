"""The catalog database on every driver: inserts that report themselves, migrations one process at a time, a
schema from a newer rennet refused with a sentence, database failures named as such, and SQLite backups."""

from __future__ import annotations

import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from rennet.domain.access import Access
from rennet.storage.accounts import Accounts, PasswordCost
from rennet.storage.catalog import Catalog, DuplicateFile
from rennet.storage.database import (
    SCHEMA_HEAD,
    DatabaseUnavailable,
    SchemaTooNew,
    backup_sqlite,
    connect,
    migrate,
    schema_revision,
)
from rennet.storage.schema import metadata
from tests.support.databases import Database
from tests.support.store import hosted_upload
from tests.support.upstream import _free_port

CHEAP = PasswordCost(1, 64 << 10)


@pytest.mark.drivers
def test_an_upload_is_listed_on_every_driver(engine: Engine) -> None:
    """psycopg 3 reports a rowcount of -1 for INSERT ... ON CONFLICT DO NOTHING: an upload once looked like a
    duplicate of itself there, and was dropped."""
    catalog = Catalog(engine)
    assert catalog.add_hosted_file("local", "thing", "Thing", hosted_upload("thing-1.0-py3-none-any.whl")) is True
    assert catalog.add_hosted_file("local", "thing", "Thing", hosted_upload("thing-1.0.tar.gz", "b" * 64)) is False
    assert sorted(catalog.files_of("local", "thing", None)) == ["thing-1.0-py3-none-any.whl", "thing-1.0.tar.gz"]
    with pytest.raises(DuplicateFile) as taken:
        catalog.add_hosted_file("local", "thing", "Thing", hosted_upload("thing-1.0-py3-none-any.whl", "c" * 64))
    assert taken.value.sha256 == "a" * 64


@pytest.mark.drivers
def test_account_changes_report_missing_rows_on_every_driver(engine: Engine) -> None:
    accounts = Accounts(engine, CHEAP)
    accounts.add_user("alice", "a-long-password")
    accounts.set_admin("alice", True)
    alice = accounts.user("alice")
    assert alice is not None and alice.admin
    with pytest.raises(ValueError, match="there is no user 'bob'"):
        accounts.set_admin("bob", True)
    with pytest.raises(ValueError, match="there is no user 'bob'"):
        accounts.set_password("bob", "another-password")
    token, record = accounts.create_token("alice", None, Access.UPLOAD)
    accounts.revoke_token(record.key)
    with pytest.raises(ValueError, match="there is no active token"):
        accounts.revoke_token(record.key)
    assert accounts.check_token(token) is None


def test_long_versions_fit(engine: Engine) -> None:
    """A version as long as a file name allows: PostgreSQL once refused anything over 128 characters."""
    version = "1." + "0." * 100 + "1"
    upload = replace(hosted_upload(f"long-{version}-py3-none-any.whl"), version=version)
    catalog = Catalog(engine)
    catalog.add_hosted_file("local", "long", "long", upload)
    assert catalog.files_of("local", "long", version) == [upload.filename]


def test_concurrent_migrations_take_turns(database: Database, tmp_path: Path) -> None:
    """Several servers starting at once on one new database: one migrates, the others wait and find it done."""
    with database.empty_catalog(tmp_path) as url:
        engines = [connect(url) for _ in range(4)]
        created: list[str] = []  # every table a CREATE TABLE made, whichever engine sent it

        def note(_connection: object, _cursor: object, statement: str, *_: object) -> None:
            made = re.match(r"\s*CREATE TABLE (\S+)", statement)
            if made:
                created.append(made[1])

        for engine in engines:
            event.listen(engine, "before_cursor_execute", note)
        barrier = threading.Barrier(len(engines))

        def start(engine: Engine) -> None:
            barrier.wait()
            migrate(engine, tmp_path / "migrate.lock")

        try:
            with ThreadPoolExecutor(len(engines)) as pool:
                list(pool.map(start, engines))
            with engines[0].connect() as connection:
                assert schema_revision(connection) == SCHEMA_HEAD
        finally:
            for engine in engines:
                engine.dispose()
    # The database was new (every table of the schema was made here), and it was migrated once (none twice).
    assert set(metadata.tables) <= set(created), created
    assert len(created) == len(set(created)), created


def test_a_newer_schema_is_refused_with_a_sentence(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(SchemaTooNew) as refused:
        migrate(engine, tmp_path / "migrate.lock")
    expected = f"this database has schema 0099; this rennet knows up to {SCHEMA_HEAD}; upgrade rennet"
    assert str(refused.value) == expected


def test_an_unreachable_database_is_named_as_such() -> None:
    engine = connect(f"postgresql+psycopg://rennet@127.0.0.1:{_free_port()}/rennet")
    with pytest.raises(DatabaseUnavailable, match="connection"):
        Catalog(engine).ping()
    engine.dispose()


def test_a_sqlite_backup_is_consistent_while_writes_go_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rennet.sqlite3'}"
    engine = connect(url)
    migrate(engine, tmp_path / "migrate.lock")
    catalog = Catalog(engine)
    stop = threading.Event()
    under_way = threading.Event()  # some rows written, and more to come

    def write() -> None:
        n = 0
        while not stop.is_set():
            catalog.add_hosted_file(
                "local", f"p{n}", f"p{n}", hosted_upload(f"p{n}-1.0-py3-none-any.whl", f"{n:064x}")
            )
            n += 1
            if n == 20:
                under_way.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert under_way.wait(30), "the writer never got going"
        size = backup_sqlite(tmp_path / "rennet.sqlite3", tmp_path / "backup" / "copy.sqlite3")
    finally:
        stop.set()
        writer.join()
    assert size == (tmp_path / "backup" / "copy.sqlite3").stat().st_size
    assert list((tmp_path / "backup").iterdir()) == [tmp_path / "backup" / "copy.sqlite3"]  # nothing partial
    with sqlite3.connect(tmp_path / "backup" / "copy.sqlite3") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        projects = copy.execute("SELECT count(*) FROM projects").fetchone()[0]
        files = copy.execute("SELECT count(*) FROM files").fetchone()[0]
        assert projects == files > 0  # every project row came with its file: one transaction each
    engine.dispose()
