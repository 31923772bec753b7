"""`rennet import DIR`: add a directory of existing wheels and sdists to a hosted index.

Works while a server runs: every file becomes visible to its workers as soon as it is added.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rennet.config import Settings
from rennet.domain.indexes import HostedIndex, upload_target
from rennet.domain.uploads import UploadRejected
from rennet.service.imports import distribution_paths, import_file
from rennet.storage.store import Store, open_store

__all__ = ["register"]

MAX_UPLOADER = 100


def register(commands: Any, settings_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = commands.add_parser(
        "import",
        help="add a directory of existing wheels and sdists to a hosted index",
        description="Every file is checked as an upload would be; files already there with the same bytes are "
        "skipped. Exits with 1 when any file was refused.",
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="searched recursively (or a single file)")
    parser.add_argument("--index", help="a hosted index, or a group whose uploads go to one (default: the default)")
    parser.add_argument("--uploader", default="import", help="recorded as who uploaded the files (default: import)")
    parser.add_argument(
        "--mtime",
        action="store_true",
        help="take each file's modification time as its upload time (keeps uv --exclude-newer meaningful)",
    )
    settings_flags(parser)
    parser.set_defaults(run=_import)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    problem, index = _destination(args, settings)
    if index is None:
        print(f"rennet: {problem}", file=sys.stderr)
        return 1
    paths, others = distribution_paths(args.directory)
    store = open_store(settings.data_dir, settings.database)
    try:
        counts = _import_all(store, index, paths, args)
    finally:
        store.close()
    ignored = f", ignored {others} other file(s)" if others else ""
    print(f"imported {counts['imported']}, skipped {counts['skipped']}, failed {counts['failed']}{ignored}")
    return 1 if counts["failed"] else 0


def _destination(args: argparse.Namespace, settings: Settings) -> tuple[str, HostedIndex | None]:
    name = args.index or settings.default_index
    if not args.directory.exists():
        return f"{args.directory} does not exist", None
    if not 0 < len(args.uploader) <= MAX_UPLOADER:
        return f"--uploader takes 1 to {MAX_UPLOADER} characters", None
    if name not in settings.indexes:
        return f"there is no index named {name!r}", None
    target = upload_target(settings.indexes, name)
    if target is None:
        return f"{name} is a mirror: import into a hosted index", None
    return "", target


def _import_all(store: Store, index: HostedIndex, paths: list[Path], args: argparse.Namespace) -> Counter[str]:
    counts: Counter[str] = Counter()
    console = Console(stderr=True, highlight=False)
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("import", total=len(paths))
        for path in paths:
            try:
                upload_time = path.stat().st_mtime if args.mtime else None
                outcome = import_file(store, index, path, args.uploader, upload_time)
            except (UploadRejected, OSError) as error:
                counts["failed"] += 1
                message = error.message if isinstance(error, UploadRejected) else str(error)
                console.print(f"failed {path}: {message}", markup=False, soft_wrap=True)
            else:
                state = "imported" if outcome.created else "skipped"
                counts[state] += 1
                note = f" into {index.name}" if outcome.created else ": the same file is there already"
                console.print(f"{state} {path.name}{note}", markup=False, soft_wrap=True)
            progress.advance(task)
    return counts
