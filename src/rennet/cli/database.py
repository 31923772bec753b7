"""`rennet db backup FILE`: a consistent copy of the catalog while the server runs.

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
