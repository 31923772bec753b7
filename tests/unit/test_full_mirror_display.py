"""What `rennet mirror --all` shows while it runs: a progress bar on a terminal, nothing but the summary elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from rennet.cli.fullmirror import _progress, summary
from rennet.service.offline.fetching import FileOutcome
from rennet.service.offline.fullmirror import ProjectOutcome, SyncReport


def show(terminal: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=160, highlight=False)
    with _progress(console) as display:
        display.listed(4)
        display.advance(2_000_000)
        display.finished(FileOutcome("a-1.0-py3-none-any.whl", "fetched", 2_000_000))
        display.project_done(ProjectOutcome("a", "synced"))
        display.project_done(ProjectOutcome("b", "failed", error="the upstream answered 500"))
        display._bar.refresh()
    return out.getvalue()


def test_a_terminal_sees_projects_files_bytes_and_failures() -> None:
    shown = show(terminal=True)
    assert "2/4" in shown  # projects done of those to look at
    assert "1 files, 1.9 MiB" in shown
    assert "failed b: the upstream answered 500" in shown


def test_elsewhere_only_failures_are_said() -> None:
    assert show(terminal=False).strip() == "failed b: the upstream answered 500"


def test_the_summary_is_one_line() -> None:
    report = SyncReport(listed=10, in_scope=4, seconds=2.0)
    for outcome in (
        ProjectOutcome("a", "synced", (FileOutcome("x", "fetched", 4_000_000),)),
        ProjectOutcome("b", "unchanged"),
    ):
        report.add(outcome)
    line = summary("pypi", report)
    assert "\n" not in line
    assert line.startswith("pypi: 10 projects listed, 4 in scope: 1 synced, 1 unchanged, 0 removed, 0 failed")
    assert "files: 1 fetched (3.8 MiB)" in line and "(0.5 files/s, 1.9 MiB/s)" in line
