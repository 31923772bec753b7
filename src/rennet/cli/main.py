"""`rennet <command>`: argument parsing and dispatch; each command lives in its own module."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from rennet import __version__
from rennet.cli import accounts, cleanup, export, imports, manage, mirror, refresh, serve, stats
from rennet.cli._command import fail
from rennet.config import InvalidConfig, load_settings

__all__ = ["main"]

_FLAG_ENV = {
    "config": "RENNET_CONFIG",
    "data_dir": "RENNET_DATA_DIR",
    "upstream": "RENNET_UPSTREAM",
    "host": "RENNET_HOST",
    "port": "RENNET_PORT",
    "workers": "RENNET_WORKERS",
    "log_level": "RENNET_LOG_LEVEL",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rennet", description="A self-hosted Python package index.")
    parser.add_argument("--version", action="version", version=f"rennet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, accounts, manage, imports, mirror, export, refresh, cleanup, stats):
        module.register(commands)
    return parser


def flag_variables(args: argparse.Namespace) -> dict[str, str]:
    """The RENNET_* variables the flags stand for (flags win over the environment)."""
    variables = {}
    for flag, variable in _FLAG_ENV.items():
        value = getattr(args, flag, None)
        if value is not None:
            variables[variable] = str(Path(value).absolute()) if isinstance(value, Path) else str(value)
    if getattr(args, "offline", False):
        variables["RENNET_OFFLINE"] = "1"
    if getattr(args, "no_access_log", False):
        variables["RENNET_ACCESS_LOG"] = "0"
    return variables


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
    result: int = args.run(args, settings)
    return result
