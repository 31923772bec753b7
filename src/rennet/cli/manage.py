"""`rennet yank`, `rennet unyank`, `rennet delete` and `rennet status`: managing the projects of hosted indexes.

They work while a server runs: every change bumps the page's generation, which every worker checks per request.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from rennet.cli._command import Run, Subcommands, command, fail, run_on_store
from rennet.config import Settings
from rennet.domain.files import ProjectStatus
from rennet.domain.indexes import HostedIndex
from rennet.service.errors import ServiceError

if TYPE_CHECKING:
    from rennet.service.publishing.manage import Releases, Target

__all__ = ["register"]

_DELETE_NOTE = (
    "Deleted files leave the index at once; their bytes stay in the data directory until a later `rennet gc` "
    "removes what nothing refers to any more."
)


def register(commands: Subcommands) -> None:
    with command(
        commands,
        "yank",
        _yank,
        help="yank a release or a file of a hosted project (PEP 592)",
        description="Installers skip yanked files unless a requirement pins exactly their version (==).",
    ) as yank:
        _target_arguments(yank, "yank every file of the project")
        yank.add_argument("--reason", help="why, shown by installers")
    with command(commands, "unyank", _unyank, help="undo a yank") as unyank:
        _target_arguments(unyank, "unyank every file of the project")
    with command(
        commands, "delete", _delete, help="remove a release or a file from a hosted project", description=_DELETE_NOTE
    ) as delete:
        _target_arguments(delete, "remove the whole project: every file, and its name from the project list")
    with command(
        commands,
        "status",
        _status,
        help="set the status of a hosted project (PEP 792)",
        description="archived and quarantined projects take no uploads; quarantined ones offer no files at all.",
    ) as status:
        status.add_argument("index", help="a hosted index")
        status.add_argument("project")
        status.add_argument("status", choices=[s.value for s in ProjectStatus])
        status.add_argument("--reason", help="why, shown with the status")


def _target_arguments(parser: argparse.ArgumentParser, every_help: str) -> None:
    parser.add_argument("index", help="a hosted index")
    parser.add_argument("project")
    parser.add_argument("target", nargs="?", metavar="VERSION_OR_FILENAME", help="a version, or one file's name")
    parser.add_argument("--all", dest="every", action="store_true", help=every_help)


def _target(args: argparse.Namespace) -> Target:
    from rennet.service.publishing.manage import Target

    if args.every and args.target:
        raise ServiceError(400, "name a version or a file, or give --all, not both")
    if args.every:
        return Target(every=True)
    if not args.target:
        raise ServiceError(400, "name a version or a file (or give --all for every file of the project)")
    return Target.named(args.target)


def _on_hosted(work: Callable[[argparse.Namespace, Releases, HostedIndex], None]) -> Run:
    """A command on a project of the hosted index in args.index: exit status 1, with the reason, when refused."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        from rennet.service.publishing.manage import Releases, hosted_index

        try:
            index = hosted_index(settings.indexes, args.index)
        except ServiceError as error:
            return fail(1, error)
        return run_on_store(settings, lambda store: work(args, Releases(store), index), (ServiceError,))

    return run


@_on_hosted
def _yank(args: argparse.Namespace, releases: Releases, index: HostedIndex) -> None:
    target = _target(args)
    _report("yanked", releases.yank(index, args.project, target, args.reason), target, "yanked already")


@_on_hosted
def _unyank(args: argparse.Namespace, releases: Releases, index: HostedIndex) -> None:
    target = _target(args)
    _report("unyanked", releases.unyank(index, args.project, target), target, "not yanked")


@_on_hosted
def _delete(args: argparse.Namespace, releases: Releases, index: HostedIndex) -> None:
    target = _target(args)
    for filename in releases.delete(index, args.project, target):
        print(f"deleted {filename}")
    if target.every:
        print(f"deleted project {args.project} from {index.name}")


@_on_hosted
def _status(args: argparse.Namespace, releases: Releases, index: HostedIndex) -> None:
    changed = releases.set_status(index, args.project, ProjectStatus(args.status), args.reason)
    print(f"{args.project} in {index.name} is {'now' if changed else 'already'} {args.status}")


def _report(verb: str, filenames: list[str], target: Target, unchanged: str) -> None:
    for filename in filenames:
        print(f"{verb} {filename}")
    if not filenames:
        print(f"nothing changed: {target.describe()} of the project is {unchanged}")
