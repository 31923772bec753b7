"""`rennet db backup FILE`: a consistent copy of the catalog while the server runs. `rennet db migrate-store`: a
single host's catalog and blobs copied into PostgreSQL and an S3-protocol bucket, for servers on several hosts.

SQLite's online backup copies the database page by page inside one read transaction: what it writes is the
catalog as it was at one instant, whatever the server does meanwhile. A PostgreSQL catalog is backed up with
PostgreSQL's own tools (pg_dump), which give the same guarantee. Either way the blobs are copied after the
catalog (see the README's "Backups"): they are immutable and content-addressed, so every file the copy refers to
is among them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rennet.cli._command import Subcommands, command, fail
from rennet.cli.reporting import human_bytes
from rennet.config import Settings

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    database = commands.add_parser("db", help="the catalog database").add_subparsers(dest="action", required=True)
    with command(
        database,
        "backup",
        _backup,
        help="copy a SQLite catalog consistently, while the server runs",
        description="Writes a consistent copy of the SQLite catalog to FILE (never over an existing file). Copy "
        "the blobs/ directory after it. A PostgreSQL catalog is backed up with pg_dump instead.",
    ) as backup:
        backup.add_argument("file", type=Path, metavar="FILE")
    with command(
        database,
        "migrate-store",
        _migrate_store,
        help="copy this data directory's catalog into PostgreSQL and its files into a bucket",
        description="Copies the SQLite catalog (a consistent snapshot) into the PostgreSQL database --database "
        "names, and the stored files into the bucket --blob-store names (endpoint and credentials from the "
        "AWS_* variables), checking each file's sha256 first. Run again to resume: what was copied is kept. Stop "
        "the server before: what changes after the snapshot is not copied.",
    ) as migrate:
        migrate.add_argument("--database", metavar="URL", help="postgresql+psycopg://... (an empty or resumed one)")
        migrate.add_argument("--blob-store", metavar="URL", help="s3://BUCKET/PREFIX")


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from rennet.storage.database import backup_sqlite, sqlite_path

    source = sqlite_path(settings.database)
    if source is None:
        return fail(2, "the catalog is in PostgreSQL: back it up with pg_dump (see the README, Backups)", "db backup")
    if not source.is_file():
        return fail(2, f"there is no catalog at {source} (is --data-dir right?)", "db backup")
    target: Path = args.file.absolute()
    if target.exists():
        return fail(2, f"{target} exists already; name a new file", "db backup")
    try:
        size = backup_sqlite(source, target)
    except OSError as error:
        return fail(1, f"cannot write {target}: {error.strerror or error}", "db backup")
    print(f"catalog copied to {target} ({human_bytes(size)}); now copy {settings.data_dir / 'blobs'}")
    return 0


def _migrate_store(args: argparse.Namespace, settings: Settings) -> int:
    from rennet.storage.database import sqlite_path

    if not args.database and not args.blob_store:
        return fail(2, "name where to copy to: --database URL, --blob-store s3://BUCKET/PREFIX, or both", _MIGRATE)
    if args.database and (source := sqlite_path(settings.database)) is None:
        return fail(2, "the catalog is in a database server already: nothing to copy", _MIGRATE)
    if args.blob_store:
        status = _copy_blobs(settings, args.blob_store)
        if status:
            return status
    if args.database:
        assert source is not None
        status = _copy_catalog(settings, source, args.database)
        if status:
            return status
    print("next: start every server with " + " and ".join(_next_settings(args)))
    return 0


_MIGRATE = "db migrate-store"


def _next_settings(args: argparse.Namespace) -> list[str]:
    found = []
    if args.database:
        found.append("RENNET_DATABASE_URL (database_url) set to the new database")
    if args.blob_store:
        found.append(f"RENNET_BLOB_STORE={args.blob_store} (blob_store)")
    return found


def _copy_blobs(settings: Settings, url: str) -> int:
    from rennet.storage.blobs import good_blobs
    from rennet.storage.objectstore import ObjectStore, ObjectStoreUnavailable

    try:
        store = ObjectStore(url)
        store.check()
    except ValueError as error:
        return fail(2, error, _MIGRATE)
    except ObjectStoreUnavailable as error:
        return fail(1, error, _MIGRATE)
    copied = 0
    damaged: list[str] = []
    for sha256, path in good_blobs(settings.data_dir / "blobs", damaged.append):
        store.put_file(sha256, path)
        copied += 1
    for sha256 in damaged:
        print(f"rennet {_MIGRATE}: not copied, its bytes do not match its name (see rennet verify): {sha256}")
    print(f"files: {copied} in {url}" + (f", {len(damaged)} damaged left out" if damaged else ""))
    return 1 if damaged else 0


def _copy_catalog(settings: Settings, source: Path, url: str) -> int:
    from rennet.storage.catalogcopy import copy_catalog, count_rows
    from rennet.storage.database import backup_sqlite, connect, migrate

    if not url.startswith("postgresql"):
        return fail(
            2, f"{url.split(':', 1)[0]!r}: the catalog is copied into PostgreSQL (postgresql+psycopg://...)", _MIGRATE
        )
    snapshot = settings.data_dir / "run" / "migrate-store.sqlite3"
    snapshot.unlink(missing_ok=True)
    backup_sqlite(source, snapshot)
    before, after = connect(f"sqlite:///{snapshot}"), connect(url)
    try:
        migrate(before, settings.data_dir / "run" / "migrate.lock")  # the snapshot at this rennet's schema
        migrate(after, settings.data_dir / "run" / "migrate.lock")
        copy_catalog(before, after)
        wanted, found = count_rows(before), count_rows(after)
    finally:
        before.dispose()
        after.dispose()
        snapshot.unlink(missing_ok=True)
    print("catalog: " + ", ".join(f"{count} {table}" for table, count in found.items()))
    different = [table for table in wanted if wanted[table] != found[table]]
    if different:
        return fail(1, f"the new database holds other rows too, in: {', '.join(different)}", _MIGRATE)
    return 0
