"""`rennet gc` and `rennet verify`: free what nothing needs, and take bad bytes out of service.

Both work while a server runs on the same data directory (see service/collect.py and service/verify.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rennet.cli._command import CommandError, Subcommands, command, fail, opened_store, storing_index
from rennet.cli.reporting import bar, human_bytes, say, stderr_console
from rennet.config import InvalidConfig, Settings, parse_duration
from rennet.domain.indexes import HostedIndex, IndexConfig, ProxyIndex

if TYPE_CHECKING:
    from rennet.service.upkeep.eviction import Eviction
    from rennet.service.upkeep.gc import Collection
    from rennet.service.upkeep.verify import BadBlob, Verification
    from rennet.storage.maintenance import BlobUse

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    with command(
        commands,
        "gc",
        _gc,
        help="remove blobs nothing refers to and stale temporary files; apply max_cache_size",
        description="Evicts the least recently used files of proxy indexes beyond their max_cache_size, removes "
        "stored files that no index refers to any more (deleted releases, pruned files) once older than the "
        "grace period, temporary files left by interrupted transfers, and the proxies' remembered \"no such "
        'project" answers older than their negative_ttl. Safe while a server runs.',
    ) as gc:
        gc.add_argument("--dry-run", action="store_true", help="report what would be removed, remove nothing")
        gc.add_argument(
            "--grace",
            default="1h",
            metavar="DURATION",
            help="keep unreferenced and temporary files younger than this (default 1h): an upload or download "
            "under way may not have recorded its file yet",
        )
    with command(
        commands,
        "verify",
        _verify,
        help="hash every stored file again; quarantine those whose bytes are wrong",
        description="Reads every stored file and .metadata and compares it with its sha256. Bad ones are moved "
        "to <data-dir>/quarantine/ and taken out of service: a proxy fetches them again on the next request, "
        "a hosted file is unavailable until uploaded again. Exits with 1 if anything was bad.",
    ) as verify:
        verify.add_argument("--index", help="only the files of this proxy or hosted index (default: all)")


# -- gc -------------------------------------------------------------------------------------------------------------


def _gc(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import TextColumn

    from rennet.service.upkeep.gc import collect_garbage

    try:
        grace = parse_duration(args.grace, "--grace")
    except InvalidConfig as error:
        return fail(2, error, "gc")
    console = stderr_console()
    with (
        opened_store(settings) as store,
        bar(console, TextColumn("collecting: {task.completed} stored files examined")) as progress,
    ):
        task = progress.add_task("gc", total=None)
        report = collect_garbage(
            store, settings.data_dir, settings.indexes, grace, args.dry_run, lambda n: progress.advance(task, n)
        )
    for problem in report.problems:
        say(console, f"error: {problem}")
    print(_gc_summary(report, args.grace))
    return 1 if report.problems else 0


def _gc_summary(report: Collection, grace: str) -> str:
    verb = "would remove" if report.dry_run else "removed"
    lines = [_eviction_line(e, report.dry_run) for e in report.evictions if e.files or e.held_before > e.limit]
    lines.append(
        f"{verb} {report.orphans} unreferenced stored file(s) ({human_bytes(report.orphan_bytes)})"
        + (f"; kept {report.young_orphans} younger than {grace}" if report.young_orphans else "")
    )
    if report.bucket_orphans:
        size = human_bytes(report.bucket_orphan_bytes)
        lines.append(f"{verb} {report.bucket_orphans} unreferenced object(s) of the object store ({size})")
    lines.append(f"{verb} {report.temp_files} stale temporary file(s) ({human_bytes(report.temp_bytes)})")
    lines.append(f'{verb} {report.missing_projects} expired "no such project" entries')
    if report.dry_run:
        lines.append("dry run: nothing was changed")
    else:
        lines.append(f"freed {human_bytes(report.bytes_freed)}")
    return "\n".join(lines)


def _eviction_line(eviction: Eviction, dry_run: bool) -> str:
    verb = "would evict" if dry_run else "evicted"
    line = (
        f"{eviction.index}: holds {human_bytes(eviction.held_before)}, max_cache_size {human_bytes(eviction.limit)}: "
        f"{verb} {len(eviction.files)} least recently used file(s) ({human_bytes(eviction.bytes_evicted)})"
    )
    if eviction.files and not dry_run:
        line += f", {eviction.blobs_deleted} stored file(s) deleted"
    return line


# -- verify ---------------------------------------------------------------------------------------------------------


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from rennet.service.upkeep.verify import plan_verification, verify_blobs

    try:
        if args.index is not None:
            storing_index(settings.indexes, args.index)
    except CommandError as error:
        return fail(2, error, "verify")
    console = stderr_console()
    columns = (TextColumn("verifying"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with opened_store(settings) as store:
        plan = plan_verification(store, args.index)
        with bar(console, *columns) as progress:
            task = progress.add_task("verify", total=plan.total_bytes)
            verify_blobs(store, settings.data_dir, plan, lambda n: progress.advance(task, n))
    for problem in plan.problems:
        say(console, f"error: {problem}")
    for repair in plan.repaired:
        say(console, f"repaired: {repair}")
    for bad in plan.bad:
        say(console, _bad_report(bad, settings.indexes))
    print(_verify_summary(plan))
    return 1 if plan.bad or plan.problems else 0


def _bad_report(bad: BadBlob, indexes: Mapping[str, IndexConfig]) -> str:
    where = f", moved to {bad.quarantined}" if bad.quarantined else ""
    lines = [f"BAD: stored file {bad.sha256} is {bad.problem}{where}; taken out of service for:"]
    lines += [f"  {_use_name(use)}: {_consequence(use, indexes.get(use.index))}" for use in bad.uses]
    return "\n".join(lines)


def _use_name(use: BlobUse) -> str:
    suffix = ".metadata" if use.metadata else " (its provenance)" if use.provenance else ""
    return f"{use.index}/{use.project}/{use.filename}{suffix}"


def _consequence(use: BlobUse, index: IndexConfig | None) -> str:
    if isinstance(index, ProxyIndex):
        return "will be fetched again from the upstream on the next request"
    if isinstance(index, HostedIndex):
        if use.metadata:
            return "its .metadata is no longer offered (installers read the wheel instead)"
        if use.provenance:
            return "its provenance is no longer served"
        return "UNAVAILABLE until it is uploaded again"
    return "no such index is configured now"


def _verify_summary(plan: Verification) -> str:
    line = f"verified {plan.checked} stored file(s), {human_bytes(plan.total_bytes)}: "
    if plan.repaired:
        line += f"{len(plan.repaired)} replaced from the object store, "
    if not plan.bad:
        return line + ("all good" if not plan.problems else f"{len(plan.problems)} could not be read")
    corrupt = sum(1 for bad in plan.bad if bad.problem == "corrupt")
    missing = len(plan.bad) - corrupt
    return line + f"{corrupt} corrupt (quarantined), {missing} missing"
