"""`rennet advisories import FILE...` and `rennet advisories list`: security advisories (OSV) in the catalog."""

from __future__ import annotations

import argparse
from pathlib import Path

from rennet.cli._command import Subcommands, command, opened_store
from rennet.config import Settings

__all__ = ["register"]

_IMPORT_NOTE = (
    "Reads OSV records: JSON files (one record, or a list of them) and zips of them, as OSV publishes the records "
    "of an ecosystem. Importing again updates what changed: a record replaces what the catalog held under its id, "
    "and a withdrawn record lifts its blocks. A malformed record is named and skipped (exit status 1); the rest "
    "is applied in one transaction. A running server sees the changes at once."
)


def register(commands: Subcommands) -> None:
    advisories = commands.add_parser("advisories", help="security advisories (OSV): import and list them")
    actions = advisories.add_subparsers(dest="action", required=True)
    with command(
        actions, "import", _import, help="import OSV records from JSON files or zips", description=_IMPORT_NOTE
    ) as importing:
        importing.add_argument("files", type=Path, nargs="+", metavar="FILE")
    with command(
        actions,
        "list",
        _list,
        help="list the advisories in the catalog",
        description="One line per advisory and project: its id, the project, the affected versions, and whether "
        "it is malicious (blocked on every index that keeps block_malicious) or withdrawn.",
    ) as listing:
        listing.add_argument("--malicious", action="store_true", help="only reports of malicious packages")
        listing.add_argument("--project", help="only this project's")


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from rennet.service.offline.advisories import import_advisories

    with opened_store(settings) as store:
        report = import_advisories(store, settings.indexes, args.files)
    for skipped in report.skipped:
        print(f"skipped {skipped}")
    imported = report.imported
    assert imported is not None
    print(
        f"{report.records} records read, {len(report.skipped)} skipped; advisories: {imported.added} added, "
        f"{imported.changed} changed, {imported.removed} removed"
    )
    return 1 if report.skipped else 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from rennet.domain.advisories import describe_affected
    from rennet.domain.names import canonical_name

    with opened_store(settings) as store:
        catalog = store.advisories
        if args.project:
            found = catalog.for_project(canonical_name(args.project))
            found = [a for a in found if a.malicious or not args.malicious]
        else:
            found = catalog.every(malicious_only=args.malicious)
    for advisory in found:
        marks = ("malicious" if advisory.malicious else "", "withdrawn" if advisory.withdrawn else "")
        mark = ", ".join(m for m in marks if m)
        line = f"{advisory.id}  {advisory.project}  {describe_affected(advisory)}"
        print(line + (f"  ({mark})" if mark else "") + (f"  {advisory.summary}" if advisory.summary else ""))
    return 0
