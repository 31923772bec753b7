"""`rennet mirror --all [INDEX]` and `rennet mirror --sync [INDEX]`: a full or filtered mirror of a proxy's upstream.

The filters are the index's mirror_* settings; flags override them for one run (a scheduled `--sync` without
flags keeps the scope the settings give). Works while a server runs on the same data directory.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from rennet.cli._command import CommandError, check_concurrency, fail, needs_upstream, open_registry, say_upstreams
from rennet.cli.reporting import bar, human_bytes, quiet_service_logs, say, stderr_console
from rennet.config import InvalidConfig, Settings, parse_size
from rennet.domain.indexes import GroupIndex, ProxyIndex, leaf_members

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from rennet.domain.mirror.scope import MirrorScope
    from rennet.service.offline.fetching import FileOutcome
    from rennet.service.offline.fullmirror import ProjectOutcome, SyncOptions, SyncReport

__all__ = ["add_arguments", "run_full_mirror"]

MIRROR_PAGE_MEMORY = 16 << 20  # pages kept in memory by the command (a server's default is 256 MiB)
MIRROR_HELD_FILES = 10_000  # files remembered as held (a server's: 200,000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    whole = parser.add_argument_group(
        "full and filtered mirrors",
        "--all fills a proxy index with every project of its upstream in scope; --sync brings it up to date "
        "(changed projects only, by the upstream's serials or conditional requests) and applies removals. "
        "The positional argument, if any, names the index. Filters default to the index's mirror_* settings.",
    )
    whole.add_argument("--all", action="store_true", help="mirror every project of the upstream in scope")
    whole.add_argument("--sync", action="store_true", help="sync a mirror made with --all; apply removals")
    whole.add_argument("--allow", action="append", default=[], metavar="PATTERN", help="only names matching (a*)")
    whole.add_argument("--deny", action="append", default=[], metavar="PATTERN", help="no names matching")
    whole.add_argument("--latest", type=int, metavar="N", help="the newest N releases of each project")
    whole.add_argument("--no-pre", action="store_true", help="no pre-releases")
    whole.add_argument("--max-file-size", metavar="SIZE", help="skip files larger than this (e.g. 200M)")
    whole.add_argument("--bandwidth", metavar="RATE", help="at most this many bytes a second (e.g. 20M)")
    whole.add_argument(
        "--min-free", default="1G", metavar="SIZE", help="stop before the disk has less free (default 1G)"
    )


def run_full_mirror(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    try:
        proxies = _proxies(args, settings)
        options = _options(args, settings.indexes[proxies[0]])
        bandwidth = parse_size(args.bandwidth, "--bandwidth") if args.bandwidth else None
        if bandwidth == 0:
            raise CommandError("--bandwidth must be more than 0")
    except (CommandError, InvalidConfig, ValueError) as error:
        return fail(2, error, "mirror")
    console = stderr_console()
    say_upstreams(console, settings, proxies)
    say(console, f"scope: {options.scope.describe()}")
    try:
        with quiet_service_logs():
            reports = asyncio.run(_run(settings, proxies, options, bandwidth, args.sync, console))
    except KeyboardInterrupt:
        return fail(130, "interrupted; run it again to carry on where it stopped", "mirror")
    except CommandError as error:
        return fail(2, error, "mirror")
    for name, report in reports:
        print(summary(name, report))
    return 0 if all(report.ok for _, report in reports) else 1


def _proxies(args: argparse.Namespace, settings: Settings) -> list[str]:
    if args.all and args.sync:
        raise CommandError("--all or --sync, not both")
    if args.files or args.pylock or args.uv_lock or len(args.requirements) > 1:
        raise CommandError("--all and --sync take an index name only, no requirements or lock files")
    needs_upstream(settings, "mirroring")
    check_concurrency(args.concurrency)
    name = (args.requirements or [None])[0] or args.index or "pypi"
    config = settings.indexes.get(name)
    if config is None:
        raise CommandError(f"there is no index named {name[:64]!r}")
    if isinstance(config, GroupIndex):
        found = [m for m in leaf_members(settings.indexes, name) if isinstance(settings.indexes[m], ProxyIndex)]
        if not found:
            raise CommandError(f"group {name} has no proxy member: there is nothing to mirror into")
        return found
    if not isinstance(config, ProxyIndex):
        raise CommandError(f"{name} is a hosted index: mirror into a proxy index (or a group with one)")
    return [name]


def _options(args: argparse.Namespace, config: object) -> SyncOptions:
    """The index's settings, with the flags given on top."""
    from rennet.domain.mirror import make_targets
    from rennet.domain.mirror.scope import check_pattern, scope_of
    from rennet.service.offline.fullmirror import SyncOptions

    assert isinstance(config, ProxyIndex)
    scope = scope_of(config)
    changes: dict[str, object] = {}
    if args.allow:
        changes["allow"] = tuple(map(check_pattern, args.allow))
    if args.deny:
        changes["deny"] = tuple(map(check_pattern, args.deny))
    if args.latest is not None:
        if args.latest < 1:
            raise CommandError("--latest takes 1 or more")
        changes["latest"] = args.latest
    if args.no_pre or args.pre:
        changes["prereleases"] = bool(args.pre)
    if args.python_version or args.platform:
        if not (args.python_version and args.platform):
            raise CommandError("--python-version and --platform go together with --all and --sync")
        changes["targets"] = make_targets(args.python_version, args.platform)
    if args.sdists is not None:
        changes["sdists"] = args.sdists
    if args.max_file_size:
        changes["max_file_size"] = parse_size(args.max_file_size, "--max-file-size")
    scope = _replaced(scope, changes)
    return SyncOptions(scope, args.concurrency, args.sync, parse_size(args.min_free, "--min-free"))


def _replaced(scope: MirrorScope, changes: dict[str, object]) -> MirrorScope:
    return replace(scope, **changes)  # type: ignore[arg-type]


async def _run(
    settings: Settings,
    proxies: list[str],
    options: SyncOptions,
    bandwidth: int | None,
    sync: bool,
    console: Console,
) -> list[tuple[str, SyncReport]]:
    from rennet.service.indexes.proxy import ProxyService
    from rennet.service.offline.fullmirror import MirrorSync
    from rennet.service.offline.pacing import Pacer
    from rennet.service.runtime.heldfiles import HeldFiles
    from rennet.storage.mirrorstate import MirrorStates

    reports = []
    pace = Pacer(bandwidth) if bandwidth else None
    # A sync touches each project once: what a server keeps in memory to answer again would only grow with the
    # upstream's size here.
    settings = replace(settings, page_memory_bytes=min(settings.page_memory_bytes, MIRROR_PAGE_MEMORY))
    async with open_registry(settings) as registry:
        registry.shared.held = HeldFiles(MIRROR_HELD_FILES)
        for name in proxies:
            proxy = registry.indexes[name]
            assert isinstance(proxy, ProxyService)
            states = MirrorStates(registry.shared.catalog.engine)
            if sync and not await registry.shared.db(states.count, name):
                raise CommandError(f"{name} has no mirror to sync yet: make one with `rennet mirror --all {name}`")
            proxy.client.pace = pace
            with _one_at_a_time(settings, name), _progress(console) as display:
                reports.append((name, await MirrorSync(proxy, options, display).run()))
    return reports


@contextmanager
def _one_at_a_time(settings: Settings, index: str) -> Iterator[None]:
    """One mirror run per index and data directory: a sync started by a timer while the last one still runs
    would do the same work twice."""
    import fcntl

    path = settings.data_dir / "run" / f"mirror-{index}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandError(
                f"another `rennet mirror --all` or `--sync` of {index} is running on this data directory; "
                "let it finish (it carries on where the last one stopped)"
            ) from None
        yield  # the lock goes with the file's closing, whatever ends the run


def _progress(console: Console) -> _Display:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    columns = (TextColumn("projects"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return _Display(bar(console, *columns, TextColumn("{task.fields[detail]}")), console)


class _Display:
    """Projects done of those to look at, with the time left; files, bytes and their rate; a line per failure."""

    def __init__(self, progress: Progress, console: Console) -> None:
        import time

        self._bar, self._console, self._clock = progress, console, time.monotonic
        self._task: TaskID = progress.add_task("mirror", total=None, detail="")
        self._files = self._bytes = 0
        self._started = self._clock()

    def __enter__(self) -> _Display:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def listed(self, projects: int) -> None:
        self._bar.update(self._task, total=projects)

    def project_done(self, outcome: ProjectOutcome) -> None:
        self._bar.advance(self._task)
        if outcome.state == "failed":
            say(self._console, f"failed {outcome.name}: {outcome.error}")

    def planned(self, files: int, size: int) -> None:
        pass

    def advance(self, size: int) -> None:
        self._bytes += size
        self._show()

    def finished(self, outcome: FileOutcome) -> None:
        self._files += 1
        self._show()

    def _show(self) -> None:
        rate = self._bytes / max(self._clock() - self._started, 1e-3)
        detail = f"{self._files} files, {human_bytes(self._bytes)}, {human_bytes(rate)}/s"
        self._bar.update(self._task, detail=detail)


def summary(index: str, report: SyncReport) -> str:
    """One line: projects by outcome, files by outcome, bytes and rates."""
    projects, files = report.projects, report.files
    seconds = max(report.seconds, 1e-6)
    fetched = files.get("fetched", 0)
    line = (
        f"{index}: {report.listed} projects listed, {report.in_scope} in scope: {projects.get('synced', 0)} synced, "
        f"{projects.get('unchanged', 0)} unchanged, {projects.get('removed', 0)} removed, "
        f"{projects.get('failed', 0)} failed; files: {fetched} fetched ({human_bytes(report.bytes_fetched)}), "
        f"{files.get('cached', 0)} already held, {files.get('failed', 0)} failed, {report.yanked} yanked, "
        f"{report.pruned} pruned; {report.seconds:.1f} s ({fetched / seconds:.1f} files/s, "
        f"{human_bytes(report.bytes_fetched / seconds)}/s)"
    )
    if report.withheld:
        line += f"; {report.withheld} file(s) withheld by the index's policy (looked at again next time)"
    if report.stopped:
        line += f"; {report.stopped}"
    return line
