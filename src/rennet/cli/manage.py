"""`rennet yank`, `rennet unyank`, `rennet delete` and `rennet status`: managing the projects of hosted indexes.

They work while a server runs: every change bumps the page's generation, which every worker checks per request.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from rennet.config import Settings
from rennet.domain.files import ProjectStatus
from rennet.domain.indexes import HostedIndex
from rennet.service.base import ServiceError
from rennet.service.manage import Releases, Target, hosted_index
from rennet.storage.store import open_store

__all__ = ["register"]

_DELETE_NOTE = (
    "Deleted files leave the index at once; their bytes stay in the data directory until a later `rennet gc` "
    "removes what nothing refers to any more."
)


def register(commands: Any, settings_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    yank = commands.add_parser(
        "yank",
        help="yank a release or a file of a hosted project (PEP 592)",
        description="Installers skip yanked files unless a requirement pins exactly their version (==).",
    )
    _target_arguments(yank, "yank every file of the project")
    yank.add_argument("--reason", help="why, shown by installers")
    yank.set_defaults(run=_yank)
    unyank = commands.add_parser("unyank", help="undo a yank")
    _target_arguments(unyank, "unyank every file of the project")
    unyank.set_defaults(run=_unyank)
    delete = commands.add_parser(
        "delete", help="remove a release or a file from a hosted project", description=_DELETE_NOTE
    )
    _target_arguments(delete, "remove the whole project: every file, and its name from the project list")
    delete.set_defaults(run=_delete)
    status = commands.add_parser(
        "status",
        help="set the status of a hosted project (PEP 792)",
        description="archived and quarantined projects take no uploads; quarantined ones offer no files at all.",
    )
    status.add_argument("index", help="a hosted index")
    status.add_argument("project")
    status.add_argument("status", choices=[s.value for s in ProjectStatus])
    status.add_argument("--reason", help="why, shown with the status")
    status.set_defaults(run=_status)
    for parser in (yank, unyank, delete, status):
        settings_flags(parser)


def _target_arguments(parser: argparse.ArgumentParser, every_help: str) -> None:
    parser.add_argument("index", help="a hosted index")
    parser.add_argument("project")
    parser.add_argument("target", nargs="?", metavar="VERSION_OR_FILENAME", help="a version, or one file's name")
    parser.add_argument("--all", dest="every", action="store_true", help=every_help)


def _target(args: argparse.Namespace) -> Target:
    if args.every and args.target:
        raise ServiceError(400, "name a version or a file, or give --all, not both")
    if args.every:
        return Target(every=True)
    if not args.target:
        raise ServiceError(400, "name a version or a file (or give --all for every file of the project)")
    return Target.named(args.target)


def _run(args: argparse.Namespace, settings: Settings, work: Callable[[Releases, HostedIndex], None]) -> int:
    try:
        index = hosted_index(settings.indexes, args.index)
    except ServiceError as error:
        print(f"rennet: {error.message}", file=sys.stderr)
        return 1
    store = open_store(settings.data_dir, settings.database)
    try:
        work(Releases(store), index)
    except ServiceError as error:
        print(f"rennet: {error.message}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _yank(args: argparse.Namespace, settings: Settings) -> int:
    def work(releases: Releases, index: HostedIndex) -> None:
        target = _target(args)
        _report("yanked", releases.yank(index, args.project, target, args.reason), target, "yanked already")

    return _run(args, settings, work)


def _unyank(args: argparse.Namespace, settings: Settings) -> int:
    def work(releases: Releases, index: HostedIndex) -> None:
        target = _target(args)
        _report("unyanked", releases.unyank(index, args.project, target), target, "not yanked")

    return _run(args, settings, work)


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    def work(releases: Releases, index: HostedIndex) -> None:
        target = _target(args)
        for filename in releases.delete(index, args.project, target):
            print(f"deleted {filename}")
        if target.every:
            print(f"deleted project {args.project} from {index.name}")

    return _run(args, settings, work)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    def work(releases: Releases, index: HostedIndex) -> None:
        changed = releases.set_status(index, args.project, ProjectStatus(args.status), args.reason)
        print(f"{args.project} in {index.name} is {'now' if changed else 'already'} {args.status}")

    return _run(args, settings, work)


def _report(verb: str, filenames: list[str], target: Target, unchanged: str) -> None:
    for filename in filenames:
        print(f"{verb} {filename}")
    if not filenames:
        print(f"nothing changed: {target.describe()} of the project is {unchanged}")
