"""`rennet import DIR`: existing wheels and sdists, or a tree written by `rennet export`, into an index.

Into a hosted index, every file is checked as an upload; an exported tree's pages add each file's sha256, upload
time and yanked state, and the status of the projects the import creates. Into a proxy index, an exported tree
seeds the cache (service/seed.py), for `rennet serve --offline` on a machine that never saw the upstream.
Works while a server runs: every file becomes visible to its workers as soon as it is added.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rennet.cli._command import CommandError, Subcommands, command, fail, opened_store
from rennet.cli.reporting import bar, say, stderr_console
from rennet.config import Settings
from rennet.domain.files import DistFile
from rennet.domain.indexes import HostedIndex, ProxyIndex, upload_target
from rennet.service.errors import ServiceError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from rennet.service.offline.exported_tree import TreePage
    from rennet.storage.store import Store

__all__ = ["register"]

MAX_UPLOADER = 100


def register(commands: Subcommands) -> None:
    with command(
        commands,
        "import",
        _import,
        creates_data_dir=True,  # seeding a new laptop's cache before its first `rennet serve --offline`
        help="add existing wheels and sdists, or a tree written by `rennet export`, to an index",
        description="Into a hosted index, every file is checked as an upload would be (and against its page, "
        "with its yanked state and upload time, when DIR is an exported tree). Into a proxy index, an exported "
        "tree seeds the cache: its pages and its files, checked against their hashes. Files already there are "
        "skipped. Exits with 1 when anything was refused.",
    ) as parser:
        parser.add_argument("directory", type=Path, metavar="DIR", help="searched recursively (or a single file)")
        parser.add_argument(
            "--index", help="a hosted or proxy index, or a group whose uploads go to one (default: the default)"
        )
        parser.add_argument(
            "--uploader", default="import", help="recorded as who uploaded the files (default: import)"
        )
        parser.add_argument(
            "--mtime",
            action="store_true",
            help="take each file's modification time as its upload time when no page gives one "
            "(keeps uv --exclude-newer meaningful)",
        )


def _import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        index = _destination(args, settings)
    except CommandError as error:
        return fail(1, error)
    counts: Counter[str] = Counter()
    others = 0
    with opened_store(settings) as store, _reporting(counts) as report:
        if isinstance(index, ProxyIndex):
            _seed_all(store, index, args.directory, report)
        else:
            others = _import_all(store, index, args, report)
    ignored = f", ignored {others} other file(s)" if others else ""
    print(f"imported {counts['imported']}, skipped {counts['skipped']}, failed {counts['failed']}{ignored}")
    return 1 if counts["failed"] else 0


def _destination(args: argparse.Namespace, settings: Settings) -> HostedIndex | ProxyIndex:
    from rennet.service.offline.exported_tree import is_tree

    name = args.index or settings.default_index
    if not args.directory.exists():
        raise CommandError(f"{args.directory} does not exist")
    if not 0 < len(args.uploader) <= MAX_UPLOADER:
        raise CommandError(f"--uploader takes 1 to {MAX_UPLOADER} characters")
    if name not in settings.indexes:
        raise CommandError(f"there is no index named {name!r}")
    config = settings.indexes[name]
    if isinstance(config, ProxyIndex):
        if not is_tree(args.directory):
            raise CommandError(
                f"{name} is a mirror: it takes a tree written by `rennet export` (DIR/simple/<project>/index.json), "
                "not loose files; import those into a hosted index"
            )
        return config
    target = upload_target(settings.indexes, name)
    if target is None:
        raise CommandError(f"{name} has no hosted index to import into")
    return target


class _Report:
    """Per-item lines on stderr, counts for the summary, and the progress bar."""

    def __init__(self, counts: Counter[str], console: Console, progress: Progress) -> None:
        self.counts = counts
        self.console = console
        self.progress = progress
        self.task = progress.add_task("import", total=None)

    def __call__(self, state: str, what: object, message: str) -> None:
        if state in ("imported", "skipped", "failed"):
            self.counts[state] += 1
        say(self.console, f"{state} {what}{message}")

    def total(self, count: int) -> None:
        self.progress.update(self.task, total=count)

    def advance(self, count: int = 1) -> None:
        self.progress.advance(self.task, count)


@contextmanager
def _reporting(counts: Counter[str]) -> Iterator[_Report]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    console = stderr_console()
    with bar(console, TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as progress:
        yield _Report(counts, console, progress)


def _tree_pages(root: Path, index: str, report: _Report) -> list[TreePage]:
    from rennet.service.offline.exported_tree import TreePage, read_tree

    pages: list[TreePage] = []
    for page in read_tree(root, index):
        if isinstance(page, TreePage):
            pages.append(page)
        else:
            report("failed", page.path, f": {page.reason}")
    return pages


# -- into a proxy ---------------------------------------------------------------------------------------------------


def _seed_all(store: Store, index: ProxyIndex, root: Path, report: _Report) -> None:
    from rennet.service.offline.seed_proxy import seed_listing, seed_project

    pages = _tree_pages(root, index.name, report)
    report.total(sum(len(page.page.files) for page in pages))
    for page in pages:
        try:
            outcomes = seed_project(store, index.name, page)
        except OSError as error:
            report("failed", page.page_path, f": {error}")
            continue
        for outcome in outcomes:
            what = outcome.path if outcome.state == "failed" and outcome.path else outcome.filename
            note = f" into {index.name}" if outcome.state == "imported" else f": {outcome.message}"
            report(outcome.state, what, note)
        report.advance(len(outcomes))
    if pages and seed_listing(store, index.name, store.data_dir / "listings"):
        report("listed", f"{len(store.catalog.project_names(index.name))} project(s)", f" in {index.name}")


# -- into a hosted index --------------------------------------------------------------------------------------------


def _import_all(store: Store, index: HostedIndex, args: argparse.Namespace, report: _Report) -> int:
    """Import every distribution below DIR; returns how many other files were passed over."""
    from rennet.service.offline.exported_tree import is_tree
    from rennet.service.offline.imports import distribution_paths

    root: Path = args.directory
    tree = is_tree(root)
    pages = _tree_pages(root, index.name, report) if tree else []
    listed = {path: file for page in pages for file, path in page.entries() if path is not None}
    new = {page.page.name for page in pages if store.catalog.project(index.name, page.page.name) is None}
    paths, others = distribution_paths(root, tree)
    report.total(len(paths))
    for path in paths:
        _import_one(store, index, path, listed.get(path), args, report)
        report.advance()
    _missing_files(pages, set(paths), report)
    _statuses(store, index, [page for page in pages if page.page.name in new], report)
    return others


def _import_one(
    store: Store,
    index: HostedIndex,
    path: Path,
    page_file: DistFile | None,
    args: argparse.Namespace,
    report: _Report,
) -> None:
    """One file, with what its page says (sha256, upload time, yanked) when the tree has a page for it."""
    from rennet.domain.uploads import UploadRejected
    from rennet.service.offline.imports import import_file
    from rennet.service.publishing.manage import Releases, Target

    upload_time = path.stat().st_mtime if args.mtime else None
    if page_file is not None and page_file.upload_time is not None:
        upload_time = page_file.upload_time.timestamp()
    try:
        sha256 = page_file.sha256 if page_file is not None else None
        outcome = import_file(store, index, path, args.uploader, upload_time, sha256)
    except (UploadRejected, OSError) as error:
        report("failed", path, f": {error}")
        return
    if not outcome.created:
        report("skipped", path.name, ": the same file is there already")
        return
    report("imported", path.name, f" into {index.name}")
    if page_file is not None and page_file.yanked:
        # At once, not after the whole import: an installer should meet this file unyanked for as short as can be.
        try:
            Releases(store).yank(index, outcome.project, Target(filename=path.name), page_file.yanked_reason)
        except ServiceError as error:
            report("failed", path, f": imported, but not yanked: {error.message}")


def _missing_files(pages: list[TreePage], found: set[Path], report: _Report) -> None:
    for page in pages:
        for file, path in page.entries():
            if path is None:
                report("failed", file.filename, f": its link in {page.page_path} leads out of the tree")
            elif path not in found:
                report("failed", path, f": listed in {page.page_path}, but not in the tree")


def _statuses(store: Store, index: HostedIndex, pages: list[TreePage], report: _Report) -> None:
    """The status (PEP 792) of the projects this import created, set once all their files are in."""
    from rennet.service.publishing.manage import Releases

    for page in pages:
        status = page.page.status
        if status is None:
            continue
        if store.catalog.project(index.name, page.page.name) is None:
            report("note:", page.page.name, f" is {status.value} in the tree, but none of its files was imported")
            continue
        Releases(store).set_status(index, page.page.name, status, page.page.status_reason)
        report("status", page.page.name, f" set to {status.value}")
