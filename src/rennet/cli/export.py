"""`rennet export DIR`: a static copy of what an index holds, to install from with file:// or any web server.

Reads the data directory only (works while a server runs); writes nothing outside DIR.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rennet.cli._command import CommandError, Subcommands, command, fail, open_registry
from rennet.cli.reporting import bar, say, stderr_console
from rennet.config import Settings
from rennet.domain.names import InvalidName, check_project_name

if TYPE_CHECKING:
    from rich.console import Console

    from rennet.service.offline.export import Candidate, ExportTree, ProjectPlan

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    with command(
        commands,
        "export",
        _export,
        help="write a static copy of an index (pages and files) for installs without rennet",
        description="Writes DIR/simple/ (PEP 503 HTML and PEP 691 JSON pages) and DIR/files/, linked relatively: "
        "install with pip or uv from file://DIR/simple/ or serve DIR with any web server. Only files held in "
        "the data directory are listed (fetch others first with `rennet mirror`). Files already in DIR with the "
        "right bytes are kept, so a second run resumes. Exits with 1 when anything failed.",
    ) as parser:
        parser.add_argument("directory", type=Path, metavar="DIR", help="where the tree goes (made if missing)")
        parser.add_argument("--index", help="the index to copy (default: the default group)")
        parser.add_argument("--projects", metavar="A,B", help="only these projects (comma-separated)")


def _export(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    index = args.index or settings.default_index
    try:
        _check(args, settings, index)
        projects = None if args.projects is None else _project_list(args.projects)
    except CommandError as error:
        return fail(1, error)
    # Offline: the copy is what the index holds now; no page is refreshed and no file fetched.
    plans, missing = asyncio.run(_plan(replace(settings, offline=True), index, projects))
    return _write_tree(args.directory, index, plans, missing)


def _check(args: argparse.Namespace, settings: Settings, index: str) -> None:
    if index not in settings.indexes:
        raise CommandError(f"there is no index named {index!r}")
    if settings.database_url is None and not (settings.data_dir / "rennet.sqlite3").is_file():
        raise CommandError(f"{settings.data_dir} holds no rennet data")
    if args.directory.exists() and not args.directory.is_dir():
        raise CommandError(f"{args.directory} is not a directory")


def _project_list(text: str) -> list[str]:
    try:
        names = [check_project_name(part.strip()) for part in text.split(",") if part.strip()]
    except InvalidName as error:
        raise CommandError(f"--projects: {error}") from None
    if not names:
        raise CommandError("--projects names no project")
    return sorted(set(names))


async def _plan(settings: Settings, index: str, projects: list[str] | None) -> tuple[list[ProjectPlan], list[str]]:
    from rennet.service.offline.export import plan_export

    async with open_registry(settings) as registry:
        return await plan_export(registry, index, projects)


def _write_tree(directory: Path, index: str, plans: list[ProjectPlan], missing: list[str]) -> int:
    from rennet.service.offline.export import ExportTree

    console = stderr_console()
    for name in missing:
        say(console, f"failed {name}: there is no such project in {index}")
    tree = ExportTree(directory)
    try:
        tree.prepare()
        counts = _write(tree, plans, console)
        tree.write_root(plan.page.name for plan in plans)
    except OSError as error:
        say(console, f"rennet: cannot write the tree in {directory}: {error}")
        return 1
    counts["failed"] += len(missing)
    not_held = sum(plan.not_held for plan in plans)
    print(
        f"exported {len(plans)} project(s) of {index}: {counts['written']} file(s) written, "
        f"{counts['present']} already there, {counts['failed']} failed; {not_held} listed file(s) not held, "
        "left out"
    )
    if plans:
        # One line, whatever the width: a URL broken at the 80th column cannot be copied.
        say(console, f"install with: pip install --index-url {directory.absolute().as_uri()}/simple/ ...")
    return 1 if counts["failed"] else 0


def _write(tree: ExportTree, plans: list[ProjectPlan], console: Console) -> Counter[str]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    counts: Counter[str] = Counter()
    with bar(console, TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as progress:
        task = progress.add_task("export", total=sum(len(plan.candidates) for plan in plans))

        def report(candidate: Candidate, state: str, message: str) -> None:
            counts[state] += 1
            if state == "failed":
                say(console, f"failed {candidate.file.filename}: {message}")
            progress.advance(task)

        for plan in plans:
            try:
                tree.write_project(plan, report)
            except OSError as error:
                counts["failed"] += 1
                say(console, f"failed {plan.page.name}: its pages: {error}")
    return counts
