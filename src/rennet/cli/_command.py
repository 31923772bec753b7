"""What every command shares: how it is registered, how it reaches the data directory, how it refuses bad input.

The command modules are imported to build the parser (`rennet --help` imports them all), so they import only
what declaring their arguments needs; storage, services and rich are imported by the functions that run a
command, and only the types of those for annotations (tests/unit/test_cli_imports.py checks it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rennet.cli.reporting import say
from rennet.config import CONFIG_VARIABLE, UPSTREAM_VARIABLE, Settings, server_options, with_default_upstreams
from rennet.domain.indexes import GroupIndex, IndexConfig, ProxyIndex, leaf_members
from rennet.upstream.urls import redact

if TYPE_CHECKING:
    from rich.console import Console

    from rennet.service.registry import Registry
    from rennet.storage.store import Store

__all__ = [
    "CommandError",
    "Run",
    "Subcommands",
    "check_concurrency",
    "command",
    "fail",
    "flag_variables",
    "needs_upstream",
    "open_registry",
    "opened_store",
    "run_on_store",
    "say_upstreams",
    "storing_index",
]

Subcommands = Any  # what ArgumentParser.add_subparsers returns (argparse's class for it is private)
Run = Callable[[argparse.Namespace, Settings], int]


class CommandError(Exception):
    """Bad input: the command says why and exits."""


@contextmanager
def command(
    commands: Subcommands,
    name: str,
    run: Run,
    *,
    settings_first: bool = False,
    creates_data_dir: bool = False,
    **options: Any,
) -> Iterator[argparse.ArgumentParser]:
    """A command running `run`: the block adds its own arguments, followed by the settings flags (which come first
    only with `settings_first`, as for `serve`), so that its --help lists what is particular to it first. Only a
    command that `creates_data_dir` may run where no data directory is yet."""
    parser: argparse.ArgumentParser = commands.add_parser(name, **options)
    if settings_first:
        _settings_flags(parser, serve=True)
    yield parser
    if not settings_first:
        _settings_flags(parser, serve=False)
    parser.set_defaults(run=run, creates_data_dir=creates_data_dir)


def _settings_flags(parser: argparse.ArgumentParser, serve: bool) -> None:
    """The flags of server settings (rennet.config declares them): where the configuration and the data are for
    every command, and the rest for `rennet serve`."""
    parser.add_argument("--config", type=Path, help=f"TOML configuration file ({CONFIG_VARIABLE})")
    for option in server_options():
        if option.flag is None or not (serve or option.everywhere):
            continue
        described = f"{option.help} ({option.variable})"
        if option.flag.startswith("--no-"):
            parser.add_argument(option.flag, dest=option.name, action="store_const", const="0", help=described)
        elif option.boolean:
            parser.add_argument(option.flag, dest=option.name, action="store_const", const="1", help=described)
        else:
            parser.add_argument(option.flag, dest=option.name, type=Path if option.path else str, help=described)
    parser.add_argument("--upstream", help=f"upstream simple index of the 'pypi' proxy index ({UPSTREAM_VARIABLE})")


def flag_variables(args: argparse.Namespace) -> dict[str, str]:
    """The RENNET_* variables the flags given stand for (flags win over the environment)."""
    variables = {}
    if getattr(args, "config", None) is not None:
        variables[CONFIG_VARIABLE] = str(args.config.absolute())
    if getattr(args, "upstream", None) is not None:
        variables[UPSTREAM_VARIABLE] = args.upstream
    for option in server_options():
        value = getattr(args, option.name, None)
        if value is not None:
            variables[option.variable] = str(value.absolute()) if isinstance(value, Path) else value
    return variables


def fail(status: int, message: object, command: str | None = None) -> int:
    """Say on stderr why the command stops (`rennet: ...`, or `rennet <command>: ...`); returns the exit status."""
    print(f"rennet {command}: {message}" if command else f"rennet: {message}", file=sys.stderr)
    return status


@contextmanager
def opened_store(settings: Settings) -> Iterator[Store]:
    """The data directory's database and files, for the commands that work on them directly."""
    from rennet.storage.accounts import PasswordCost
    from rennet.storage.store import open_store

    cost = PasswordCost(*settings.password_cost)
    store = open_store(settings.data_dir, settings.database, password_cost=cost, blob_store=settings.blob_store)
    try:
        yield store
    finally:
        store.close()


def run_on_store(settings: Settings, work: Callable[[Store], None], refusals: tuple[type[Exception], ...]) -> int:
    """Exit status 0 once `work` is done, or 1 with the reason when it raises one of `refusals`."""
    with opened_store(settings) as store:
        try:
            work(store)
        except refusals as error:
            return fail(1, error)
    return 0


@asynccontextmanager
async def open_registry(settings: Settings) -> AsyncIterator[Registry]:
    """The index services, for the commands that fetch, refresh or read through them (mirror, refresh, export).

    They are the server's own: the same catalog, blob store, single-flight downloads and generation counters, so
    a running server sees what a command changes at once.
    """
    from rennet.service.registry import Registry

    registry = Registry(settings)
    try:
        yield registry
    finally:
        await registry.close()


MAX_CONCURRENCY = 64


def check_concurrency(value: int) -> None:
    if not 1 <= value <= MAX_CONCURRENCY:
        raise CommandError(f"--concurrency takes 1 to {MAX_CONCURRENCY}")


def say_upstreams(console: Console, settings: Settings, names: Iterable[str]) -> None:
    """A command that contacts upstreams says which, one line per proxy it works through (no credentials): the
    configuration it found decides, and the user sees which it was."""
    indexes = with_default_upstreams(settings).indexes
    for name in names:
        for member in leaf_members(indexes, name):
            index = indexes[member]
            if isinstance(index, ProxyIndex):
                say(console, f"{member}: upstream {redact(index.upstream)}")


def needs_upstream(settings: Settings, doing: str) -> None:
    """Refuse work that talks to upstreams when rennet is configured offline."""
    if settings.offline:
        raise CommandError(f"rennet is configured offline (RENNET_OFFLINE): {doing} needs the upstream")


def storing_index(indexes: Mapping[str, IndexConfig], name: str) -> IndexConfig:
    """A proxy or hosted index by name (groups store nothing of their own)."""
    config = indexes.get(name)
    if config is None:
        known = ", ".join(sorted(indexes))
        raise CommandError(f"there is no index named {name[:64]!r} (configured: {known})")
    if isinstance(config, GroupIndex):
        raise CommandError(f"{name} is a group; name one of its members: {', '.join(config.members)}")
    return config
