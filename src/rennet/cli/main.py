"""`rennet <command>`: argument parsing and dispatch; each command lives in its own module."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from rennet import __version__
from rennet.cli import (
    accounts,
    advisories,
    cleanup,
    database,
    export,
    imports,
    manage,
    mirror,
    refresh,
    serve,
    stats,
)
from rennet.cli._command import fail, flag_variables
from rennet.config import InvalidConfig, holds_rennet_data, load_settings, served_settings

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rennet", description="A self-hosted Python package index.")
    parser.add_argument("--version", action="version", version=f"rennet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, accounts, manage, imports, mirror, export, refresh, cleanup, stats, database, advisories):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    variables = flag_variables(args)
    environment = {**os.environ, **variables}
    try:
        settings = load_settings(environment)
        if args.command != "serve":
            # The server's upstream, database and indexes, not the defaults: a command on a cache filled from
            # one upstream must not revalidate it against another.
            settings = served_settings(settings, environment)
    except InvalidConfig as error:
        return fail(2, f"configuration error: {error}")
    if not args.creates_data_dir and not holds_rennet_data(settings.data_dir):
        return fail(
            2,
            f"there is no rennet data directory at {settings.data_dir}: give the --data-dir (or RENNET_DATA_DIR) "
            "of a server, or start one there first (rennet serve --data-dir ...)",
        )
    if args.command == "serve":
        # Worker processes load their settings from the environment they inherit.
        os.environ.update(variables)
    try:
        result: int = args.run(args, settings)
    except Exception as error:
        status = _database_failure(error)
        if status is None:
            raise
        return status
    return result


def _database_failure(error: Exception) -> int | None:
    """The exit status for a database or object store that cannot be used (said on stderr), or None for any other
    error.

    rennet.storage.database (and SQLAlchemy) is imported here rather than at the top: a command that never
    opened the database does not pay for it, and one that did has it imported already.
    """
    from rennet.storage.database import DatabaseUnavailable, SchemaTooNew
    from rennet.storage.objectstore import ObjectStoreUnavailable

    if isinstance(error, ObjectStoreUnavailable):
        return fail(1, f"the object store is unavailable: {error}")
    if isinstance(error, SchemaTooNew):
        return fail(2, error)
    if isinstance(error, DatabaseUnavailable):
        return fail(1, f"the database is unavailable: {error}")
    return None
