"""`rennet <command>`: argument parsing and dispatch; each command lives in its own module."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from rennet import __version__
from rennet.cli import accounts, cleanup, database, export, imports, manage, mirror, refresh, serve, stats
from rennet.cli._command import fail, flag_variables
from rennet.config import InvalidConfig, load_settings
from rennet.storage.database import DatabaseUnavailable, SchemaTooNew

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rennet", description="A self-hosted Python package index.")
    parser.add_argument("--version", action="version", version=f"rennet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, accounts, manage, imports, mirror, export, refresh, cleanup, stats, database):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    variables = flag_variables(args)
    try:
        settings = load_settings({**os.environ, **variables})
    except InvalidConfig as error:
        return fail(2, f"configuration error: {error}")
    if args.command == "serve":
        # Worker processes load their settings from the environment they inherit.
        os.environ.update(variables)
    try:
        result: int = args.run(args, settings)
    except SchemaTooNew as error:
        return fail(2, error)
    except DatabaseUnavailable as error:
        return fail(1, f"the database is unavailable: {error}")
    return result
