"""`rennet mirror`: prefetch into a proxy index everything an offline install needs.

Works while a server runs on the same data directory: every file fetched is served at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

from rennet.cli._command import (
    CommandError,
    Subcommands,
    check_concurrency,
    command,
    fail,
    needs_upstream,
    open_registry,
    say_upstreams,
)
from rennet.cli.fullmirror import add_arguments as add_full_mirror_arguments
from rennet.cli.fullmirror import run_full_mirror
from rennet.cli.reporting import bar, quiet_service_logs, say, stderr_console
from rennet.config import Settings
from rennet.domain.indexes import GroupIndex, HostedIndex, ProxyIndex, leaf_members

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from rennet.domain.mirror import MirrorOptions, Target
    from rennet.service.offline.mirror import FileOutcome, MirrorReport
    from rennet.service.offline.mirror_inputs import ReadInputs

__all__ = ["register"]

MB = 1_000_000


def register(commands: Subcommands) -> None:
    with command(
        commands,
        "mirror",
        _mirror,
        help="prefetch into a proxy index everything needed to install offline",
        description="Fetch the files that requirements, requirements files, pylock.toml or uv.lock files need "
        "on the target environments into a proxy index (or a group's proxies). Files already held are skipped, "
        "so a second run resumes. Every problem is reported per item; the exit status is 1 if any item failed. "
        "With --all, every project of the index's upstream in scope instead; --sync keeps that up to date.",
    ) as parser:
        parser.add_argument("requirements", nargs="*", metavar="REQUIREMENT", help='e.g. "requests>=2" flask')
        parser.add_argument(
            "-r",
            "--requirement",
            dest="files",
            type=Path,
            action="append",
            default=[],
            metavar="FILE",
            help="a pip requirements file (-r and -c inside count; --hash pins)",
        )
        parser.add_argument("--pylock", type=Path, action="append", default=[], metavar="FILE", help="a PEP 751 lock")
        parser.add_argument("--uv-lock", type=Path, action="append", default=[], metavar="FILE", help="a uv.lock")
        parser.add_argument("--index", help="a proxy index, or a group with proxy members (default: pypi)")
        parser.add_argument(
            "--python-version",
            action="append",
            default=[],
            metavar="X.Y",
            help="a target Python version, repeatable (default: this interpreter's)",
        )
        parser.add_argument(
            "--platform",
            action="append",
            default=[],
            metavar="TAG",
            help="a target platform such as manylinux_2_28_x86_64, macosx_14_0_arm64 or win_amd64, "
            "repeatable (default: this machine's)",
        )
        parser.add_argument(
            "--sdists",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="source distributions: a lock file's, and for requirements where no wheel installs "
            "on a target; with --all, sdists at all (default: yes)",
        )
        parser.add_argument("--all-files", action="store_true", help="every file of each chosen version")
        parser.add_argument(
            "--no-deps",
            action="store_true",
            help="do not follow dependencies of unpinned requirements (lock files and hash-pinned "
            "requirements are complete and never followed)",
        )
        parser.add_argument("--pre", action="store_true", help="allow pre-releases")
        parser.add_argument("--concurrency", type=int, default=8, metavar="N", help="parallel downloads (default 8)")
        add_full_mirror_arguments(parser)


def _mirror(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from rennet.domain.mirror import InvalidTarget, MirrorOptions

    if args.all or args.sync:
        return run_full_mirror(args, settings)
    if args.sdists is None:
        args.sdists = True
    try:
        targets = _targets(args)
        index = _index(args, settings)
    except (InvalidTarget, ValueError, CommandError) as error:
        return fail(2, error, "mirror")
    if not (args.requirements or args.files or args.pylock or args.uv_lock):
        return fail(2, "nothing to mirror: name requirements, -r FILE, --pylock FILE or --uv-lock FILE", "mirror")
    console = stderr_console()
    say_upstreams(console, settings, [index])
    read = _read(args, targets, console)
    options = MirrorOptions(targets, args.sdists, args.all_files, args.pre or read.prereleases, not args.no_deps)
    try:
        with quiet_service_logs():
            report = asyncio.run(_run(settings, index, options, args.concurrency, read, console))
    except KeyboardInterrupt:
        # Partial downloads are dropped, finished ones are kept: the next run carries on from there.
        return fail(130, "interrupted; run it again to resume", "mirror")
    report.problems[:0] = read.problems
    print(_summary(report))
    return 0 if report.ok else 1


def _read(args: argparse.Namespace, targets: tuple[Target, ...], console: Console) -> ReadInputs:
    """The inputs, with what is wrong in them said at once (their files are not read again)."""
    from rennet.service.offline.mirror_inputs import read_inputs

    read = read_inputs(
        targets,
        requirements=args.files,
        pylocks=args.pylock,
        uv_locks=args.uv_lock,
        names=args.requirements,
        sdists=args.sdists,
        environ=os.environ,
    )
    for note in read.notes:
        say(console, f"note: {note}")
    for problem in read.problems:
        say(console, f"error: {problem}")
    return read


def _targets(args: argparse.Namespace) -> tuple[Target, ...]:
    from rennet.domain.mirror import make_targets

    check_concurrency(args.concurrency)
    pythons = args.python_version or [_this_python()]
    # The running interpreter's implementation only when it is the target; a named version means CPython.
    implementation = "cpython" if args.python_version else sys.implementation.name
    return make_targets(pythons, args.platform or [_this_platform()], implementation)


def _this_python() -> str:
    threaded = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    return f"{sys.version_info.major}.{sys.version_info.minor}{threaded}"


def _this_platform() -> str:
    """The portable tag of this machine: manylinux (or musllinux) of this glibc rather than plain linux_*."""
    from packaging.tags import platform_tags

    found = list(platform_tags())
    return next((tag for tag in found if tag.startswith(("manylinux_", "musllinux_"))), found[0])


def _index(args: argparse.Namespace, settings: Settings) -> str:
    name = args.index or "pypi"
    needs_upstream(settings, "mirroring")
    config = settings.indexes.get(name)
    if config is None:
        raise ValueError(f"there is no index named {name!r}")
    if isinstance(config, HostedIndex):
        raise ValueError(f"{name} is a hosted index: mirror into a proxy index (such as pypi) or a group with one")
    if isinstance(config, GroupIndex):
        members = leaf_members(settings.indexes, name)
        if not any(isinstance(settings.indexes[m], ProxyIndex) for m in members):
            raise ValueError(f"group {name} has no proxy member: there is nothing to mirror into")
    return name


async def _run(
    settings: Settings, index: str, options: MirrorOptions, concurrency: int, read: ReadInputs, console: Console
) -> MirrorReport:
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeElapsedColumn

    from rennet.service.offline.mirror import Mirror

    columns = (
        TextColumn("mirroring"),
        BarColumn(),
        TextColumn("{task.fields[done]}/{task.fields[files]} files"),
        DownloadColumn(),
        TimeElapsedColumn(),
    )
    with bar(console, *columns) as progress:
        display = _Display(progress, progress.add_task("mirror", total=None, done=0, files=0), console)
        async with open_registry(settings) as registry:
            mirror = Mirror(registry.indexes[index], options, concurrency, display)
            return await mirror.run(read.inputs)


class _Display:
    """Progress on the terminal, and a line for every problem (printed above the bar)."""

    def __init__(self, bar: Progress, task: TaskID, console: Console) -> None:
        self._bar, self._task, self._console = bar, task, console
        self._files = self._done = self._bytes = 0

    def planned(self, files: int, size: int) -> None:
        self._files += files
        self._bytes += size
        self._bar.update(self._task, total=self._bytes or None, files=self._files)

    def advance(self, size: int) -> None:
        self._bar.advance(self._task, size)

    def finished(self, outcome: FileOutcome) -> None:
        self._done += 1
        self._bar.update(self._task, done=self._done)
        if outcome.state == "failed":
            self._print(f"failed {outcome.filename}: {outcome.error}")

    def problem(self, message: str) -> None:
        self._print(f"error: {message}")

    def note(self, message: str) -> None:
        self._print(f"note: {message}")

    def _print(self, line: str) -> None:
        say(self._console, line)


def _summary(report: MirrorReport) -> str:
    fetched, seconds = report.count("fetched"), max(report.seconds, 1e-6)
    megabytes = report.bytes_fetched / MB
    line = (
        f"fetched {fetched} files ({megabytes:.1f} MB), already cached {report.count('cached')}, "
        f"failed {report.count('failed')} in {report.seconds:.1f} s "
        f"({fetched / seconds:.1f} files/s, {megabytes / seconds:.1f} MB/s)"
    )
    if report.problems:
        line += f"; {len(report.problems)} item(s) could not be mirrored"
    return line
