"""`rennet refresh`: re-fetch the cached pages of proxy indexes from their upstreams, and say what changed.

Works while a server runs on the same data directory: every change is served at once by every worker.
"""

from __future__ import annotations

import argparse
import time
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
    storing_index,
)
from rennet.cli.reporting import bar, name_list, quiet_service_logs, say, stderr_console
from rennet.config import InvalidConfig, Settings, parse_duration
from rennet.domain.indexes import ProxyIndex

if TYPE_CHECKING:
    from rich.console import Console

    from rennet.service.offline.refresh import PageOutcome, RefreshReport

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    with command(
        commands,
        "refresh",
        _refresh,
        help="re-fetch cached pages of proxy indexes from their upstreams",
        description="Ask the upstream again, with conditional requests, about every cached page that it last "
        "confirmed longer ago than --older-than, and summarize what changed: new files, yanked and unyanked "
        "files, files gone upstream. Files gone upstream are kept (and listed while held) unless --prune. "
        "A running server serves the changes at once. Exits with 1 if any page failed; run it again to retry.",
    ) as parser:
        parser.add_argument("--index", help="one proxy index (default: every proxy index)")
        parser.add_argument(
            "--older-than",
            default="24h",
            metavar="DURATION",
            help="only pages last confirmed upstream longer ago than this (default 24h; 0s for every page)",
        )
        parser.add_argument(
            "--prune", action="store_true", help="remove the files no longer listed upstream (their bytes go at gc)"
        )
        parser.add_argument("--concurrency", type=int, default=8, metavar="N", help="pages at once (default 8)")


def _refresh(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    try:
        indexes = _proxies(settings, args.index)
        older_than = parse_duration(args.older_than, "--older-than")
        check_concurrency(args.concurrency)
        needs_upstream(settings, "refreshing")
    except (CommandError, InvalidConfig) as error:
        return fail(2, error, "refresh")
    console = stderr_console()
    say_upstreams(console, settings, indexes)
    with quiet_service_logs():
        report = asyncio.run(_run(settings, indexes, time.time() - older_than, args, console))
    print(_summary(report, args.prune))
    return 0 if report.ok else 1


def _proxies(settings: Settings, name: str | None) -> list[str]:
    if name is None:
        return [n for n, config in settings.indexes.items() if isinstance(config, ProxyIndex)]
    if not isinstance(storing_index(settings.indexes, name), ProxyIndex):
        raise CommandError(f"{name} is a hosted index: only proxy indexes have upstream pages to refresh")
    return [name]


async def _run(
    settings: Settings, indexes: list[str], before: float, args: argparse.Namespace, console: Console
) -> RefreshReport:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from rennet.service.indexes.proxy import ProxyService
    from rennet.service.offline.refresh import RefreshReport, prune_gone, refresh_pages, stale_pages

    columns = (TextColumn("refreshing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    async with open_registry(settings) as registry:
        shared = registry.shared
        pages = await shared.db(stale_pages, shared, indexes, before)
        proxies = {name: found for name in indexes if isinstance(found := registry.indexes[name], ProxyService)}
        with bar(console, *columns) as progress:
            task = progress.add_task("refresh", total=len(pages))

            def done(outcome: PageOutcome) -> None:
                progress.advance(task)
                if outcome.state == "failed":
                    say(console, f"failed {outcome.index}/{outcome.project}: {outcome.error}")

            outcomes = await refresh_pages(proxies, pages, args.concurrency, done)
        report = RefreshReport(outcomes)
        if args.prune:
            report.pruned = await shared.db(prune_gone, shared, indexes)
    return report


def _summary(report: RefreshReport, pruned: bool) -> str:
    vanished = [f"{p.index}/{p.project}" for p in report.pages if p.state == "vanished"]
    lines = [
        f"pages: {len(report.pages)} checked, {report.count('unchanged')} unchanged, "
        f"{report.count('changed')} changed, {report.count('failed')} failed"
        + (f", {len(vanished)} no longer upstream" if vanished else ""),
    ]
    added, yanked, unyanked, gone = (report.files(kind) for kind in ("added", "yanked", "unyanked", "gone"))
    lines.append(
        f"files: {len(added)} new, {len(yanked)} yanked, {len(unyanked)} unyanked, {len(gone)} gone upstream"
        + ("" if pruned or not gone else " (kept; --prune removes them)")
    )
    for label, names in (
        ("new", added),
        ("yanked", yanked),
        ("unyanked", unyanked),
        ("gone upstream", gone),
        ("otherwise changed upstream", report.files("updated")),
        ("projects no longer upstream", vanished),
    ):
        if names:
            lines.append(f"{label}: {name_list(names)}")
    if pruned:
        lines.append(f"pruned {len(report.pruned)} file(s) gone upstream" + _named(report.pruned))
    return "\n".join(lines)


def _named(names: list[str]) -> str:
    return f": {name_list(names)}" if names else ""
