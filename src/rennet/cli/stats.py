"""`rennet stats`: what every index holds, and how often the cache answered since the server started."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from rennet.cli._command import Subcommands, command, opened_store
from rennet.cli.reporting import human_bytes
from rennet.config import Settings

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    with command(
        commands,
        "stats",
        _stats,
        help="projects, files and bytes per index; cache hit rates since the server started",
        description="A hit is a page or file answered from rennet's cache without asking the upstream; the "
        "rates count the requests of the server running on this data directory (or that ran last) since it "
        "started. The oldest page is the one its upstream confirmed least recently (`rennet refresh`).",
    ) as parser:
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from rennet.service.upkeep.stats import gather_stats
    from rennet.storage.counters import counters_path

    with opened_store(settings) as store:
        stats = gather_stats(store, settings.indexes, counters_path(settings.data_dir))
    print(json.dumps(stats, indent=2, sort_keys=True) if args.json else _table(stats))
    return 0


def _table(stats: dict[str, Any]) -> str:
    rows = [("index", "kind", "projects", "files", "held", "held bytes", "oldest page")]
    for name, entry in stats["indexes"].items():
        if entry["kind"] == "group":
            rows.append((name, "group", "", "", "", "", "members: " + ", ".join(entry["members"])))
            continue
        rows.append(
            (
                name,
                entry["kind"],
                str(entry["projects"]),
                str(entry["files"]),
                str(entry["held_files"]),
                human_bytes(entry["held_bytes"]) + _limit(entry.get("max_cache_size")),
                _oldest(entry.get("oldest_page")) if entry["kind"] == "proxy" else "",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([*lines, "", _requests(stats["requests"])])


def _limit(limit: int | None) -> str:
    return f" of {human_bytes(limit)}" if limit else ""


def _oldest(oldest: dict[str, Any] | None) -> str:
    if oldest is None:
        return "-"
    return f"{oldest['project']}, {_age(oldest['age_seconds'])} ago"


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def _requests(requests: dict[str, Any] | None) -> str:
    if requests is None:
        return "requests: no server has run on this data directory yet"
    since = datetime.fromtimestamp(requests["since"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [f"requests since the server started at {since}:"]
    for kind in ("pages", "files"):
        counts = requests[kind]
        rate = "-" if counts["hit_rate"] is None else f"{counts['hit_rate'] * 100:.1f}%"
        details = ", ".join(
            f"{state} {count}" for state, count in counts.items() if state not in ("total", "hit_rate")
        )
        parts.append(f"  {kind}: {counts['total']} ({details}); hit rate {rate}")
    return "\n".join(parts)
