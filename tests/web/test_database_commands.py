"""`rennet db backup` while the server writes, and what every command says of a database a newer rennet made."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from rennet.storage.database import SCHEMA_HEAD
from tests.support.accounts import add_user
from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE
from tests.support.server import LocalServer
from tests.support.store import query
from tests.support.uploads import post_upload


def test_a_backup_of_a_running_server(
    rennet_factory: Callable[..., LocalServer], database: Database, tmp_path: Path
) -> None:
    server = rennet_factory(config='[index.local]\nupload = ["alice"]\n')
    target = tmp_path / "backups" / "catalog.sqlite3"
    if database.is_postgres:
        refused = server.cli("db", "backup", str(target))
        assert refused.returncode == 2
        assert "the catalog is in PostgreSQL: back it up with pg_dump" in refused.stderr
        assert not target.exists()
        return
    add_user(server, *ALICE)
    wheel = make_wheel("backed-up", "1.0")
    assert post_upload(server.url + "/local/", wheel, auth=ALICE).status_code == 200
    done = server.cli("db", "backup", str(target))
    assert done.returncode == 0, done.stderr
    assert f"catalog copied to {target}" in done.stdout
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT filename FROM files").fetchall() == [(wheel.filename,)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, nothing beside it
    again = server.cli("db", "backup", str(target))
    assert again.returncode == 2 and "exists already; name a new file" in again.stderr


def test_a_database_of_a_newer_rennet_is_refused_with_a_sentence(
    rennet_factory: Callable[..., LocalServer],
) -> None:
    server = rennet_factory()
    server.stop()
    query(server, "UPDATE alembic_version SET version_num = '0099'")
    refused = server.cli("stats")
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith(
        f"this database has schema 0099; this rennet knows up to {SCHEMA_HEAD}; upgrade rennet"
    )
    assert "Traceback" not in refused.stderr
