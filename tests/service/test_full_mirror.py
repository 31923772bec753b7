"""`rennet mirror --all` / `--sync` as a service: a filtered mirror of a fake upstream, then syncs after changes.

Each test has its own upstream and catalog (a full mirror reads every project the upstream lists). The filters
themselves: tests/unit/mirror/test_scope.py; the command and its summary: tests/web/test_full_mirror_command.py;
installing from an export of such a mirror with pip and uv: tests/e2e/test_full_mirror.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rennet.domain.mirror.scope import MirrorScope
from rennet.domain.mirror.targets import make_targets
from rennet.service.offline.fetching import FileOutcome
from rennet.service.offline.fullmirror import MirrorSync, ProjectOutcome, SyncOptions, SyncReport
from rennet.storage.mirrorstate import MirrorStates, StoredState
from rennet.storage.mirrorwork import WorkList
from tests.support.dists import Dist, make_sdist, make_wheel
from tests.support.services import Services, Worker
from tests.support.upstream import FakeUpstream

LINUX_312 = make_targets(["3.12"], ["manylinux_2_28_x86_64"])


class Heard:
    """The progress a sync reports."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.projects: list[ProjectOutcome] = []
        self.files: list[FileOutcome] = []

    def listed(self, projects: int) -> None:
        self.total = projects

    def project_done(self, outcome: ProjectOutcome) -> None:
        self.projects.append(outcome)

    def planned(self, files: int, size: int) -> None:
        pass

    def advance(self, size: int) -> None:
        pass

    def finished(self, outcome: FileOutcome) -> None:
        self.files.append(outcome)


@pytest.fixture
def services(tmp_path: Path, catalog_url: str, upstream: FakeUpstream) -> Services:
    return Services(tmp_path / "data", catalog_url, upstream)


def sync(services: Services, options: SyncOptions) -> tuple[SyncReport, Heard]:
    heard = Heard()

    async def scenario(w: Worker) -> SyncReport:
        return await MirrorSync(w.proxy(), options, heard).run()

    return services.run(scenario), heard


def transfers(upstream: FakeUpstream) -> int:
    """Distribution files the upstream sent (their .metadata files aside)."""
    return sum(n for path, n in upstream.requests.items() if path.startswith("/files/") and "metadata" not in path)


def held(services: Services) -> set[str]:
    """Filenames whose bytes the proxy holds (whatever its policy shows)."""

    async def scenario(w: Worker) -> set[str]:
        found = set()
        for project in w.upstream.projects | {"gone-c": {}}:
            page = await w.proxy().project_page(project)
            for name in [f.filename for f in page.source.files] if page.source is not None else []:
                record = w.catalog.file("pypi", project, name)
                if record is not None and record.blob_sha256:
                    found.add(name)
        return found

    return services.run(scenario)


@pytest.fixture
def dists(upstream: FakeUpstream) -> dict[str, Dist]:
    found = {
        "a1": make_wheel("keep-a", "1.0"),
        "a2": make_wheel("keep-a", "2.0"),
        "a2-sdist": make_sdist("keep-a", "2.0"),
        "a3": make_wheel("keep-a", "3.0"),
        "a4rc": make_wheel("keep-a", "4.0rc1"),
        "b-linux": make_wheel("keep-b", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64"),
        "b-win": make_wheel("keep-b", "1.0", tag="cp312-cp312-win_amd64"),
        "b-old-python": make_wheel("keep-b", "0.9", requires_python="<3"),
        "c": make_wheel("gone-c", "1.0"),
        "big": make_wheel("keep-big", "1.0", padding=300_000),
        "other": make_wheel("other", "1.0"),
    }
    upstream.add(*found.values())
    return found


SCOPE = MirrorScope(
    allow=("keep-*", "gone-*"),
    latest=2,
    prereleases=False,
    targets=LINUX_312,
    sdists=False,
    max_file_size=200_000,
)


def test_a_filtered_mirror_fetches_what_its_scope_names_and_only_that(
    services: Services, dists: dict[str, Dist]
) -> None:
    report, heard = sync(services, SyncOptions(SCOPE, concurrency=3, min_free=0))

    assert report.ok, report.failures
    assert report.listed == 5
    assert report.in_scope == 4  # not "other"
    assert heard.total == 4
    assert services.upstream.count("/simple/other/") == 0
    assert transfers(services.upstream) == 4
    wanted = {dists[k].filename for k in ("a2", "a3", "b-linux", "c")}
    assert held(services) == wanted
    assert report.files == {"fetched": 4}
    assert report.bytes_fetched == sum(len(dists[k].data) for k in ("a2", "a3", "b-linux", "c"))
    assert report.projects == {"synced": 4}  # keep-big too: its page is held, none of its files in scope


def test_a_sync_with_nothing_changed_asks_for_the_listing_only(services: Services, dists: dict[str, Dist]) -> None:
    sync(services, SyncOptions(SCOPE, min_free=0))
    pages_before = services.upstream.count("/simple/")

    report, _ = sync(services, SyncOptions(SCOPE, remove=True, min_free=0))

    assert report.ok
    assert report.projects == {"unchanged": 4}
    assert report.files == {}
    assert services.upstream.count("/simple/") == pages_before + 1  # the root


def test_a_sync_applies_new_versions_yanks_status_changes_and_removals(
    services: Services, dists: dict[str, Dist]
) -> None:
    up = services.upstream
    sync(services, SyncOptions(SCOPE, min_free=0))
    new = make_wheel("keep-a", "5.0")
    up.add(new)
    up.replace(replace(dists["b-linux"], yanked="broken build"))
    up.drop_project("gone-c")
    up.statuses["keep-big"] = ("archived", "no longer maintained")
    up.touch("keep-big")
    files_before = transfers(up)

    report, heard = sync(services, SyncOptions(SCOPE, remove=True, min_free=0))

    assert report.ok, report.failures
    assert report.projects == {"synced": 3, "removed": 1}
    assert report.yanked == 1
    assert report.pruned == 1  # gone-c's wheel
    assert transfers(up) == files_before + 1  # the new version only
    assert {outcome.name for outcome in heard.projects if outcome.state == "removed"} == {"gone-c"}
    assert heard.total == len(heard.projects)  # the progress counts the removed project in its total too

    async def check(w: Worker) -> None:
        page = await w.proxy().project_page("keep-b")
        assert page.page is not None
        (linux,) = [f for f in page.page.files if f.filename == dists["b-linux"].filename]
        assert linux.yanked and linux.yanked_reason == "broken build"
        archived = await w.proxy().project_page("keep-big")
        assert archived.page is not None and archived.page.status == "archived"
        assert archived.page.status_reason == "no longer maintained"
        assert w.catalog.file("pypi", "gone-c", dists["c"].filename) is None
        assert w.catalog.file("pypi", "keep-a", new.filename) is not None
        states = [s.name for batch in MirrorStates(w.catalog.engine).batches("pypi") for s in batch]
        assert "gone-c" not in states

    services.run(check)
    # keep-a's latest two are now 5.0 and 3.0; 2.0, fetched before, stays (it is still upstream).
    assert new.filename in held(services)


def test_a_file_gone_from_a_page_is_pruned(services: Services, dists: dict[str, Dist]) -> None:
    sync(services, SyncOptions(SCOPE, min_free=0))
    services.upstream.remove(dists["a2"].filename)

    report, _ = sync(services, SyncOptions(SCOPE, remove=True, min_free=0))

    assert report.ok
    assert report.pruned == 1

    async def check(w: Worker) -> None:
        assert w.catalog.file("pypi", "keep-a", dists["a2"].filename) is None

    services.run(check)


def test_a_failed_project_is_reported_and_retried_next_time(services: Services, dists: dict[str, Dist]) -> None:
    up = services.upstream
    up.fault(f"/files/{dists['a3'].filename}", "500")

    report, _ = sync(services, SyncOptions(SCOPE, min_free=0))

    assert not report.ok
    assert report.projects.get("failed") == 1
    ((name, error),) = report.failures
    assert name == "keep-a" and dists["a3"].filename in error
    assert report.projects.get("synced") == 3  # the others carry on

    up.fault(f"/files/{dists['a3'].filename}", None)
    pages = {p: up.count(f"/simple/{p}/") for p in ("keep-a", "keep-b")}
    again, _ = sync(services, SyncOptions(SCOPE, min_free=0))

    assert again.ok, again.failures
    assert again.projects == {"synced": 1, "unchanged": 3}
    assert up.count("/simple/keep-a/") == pages["keep-a"] + 1  # retried
    assert up.count("/simple/keep-b/") == pages["keep-b"]  # resumed past it
    assert dists["a3"].filename in held(services)


def test_a_listed_project_without_a_page_is_a_failure_retried_next_time(
    services: Services, dists: dict[str, Dist]
) -> None:
    up = services.upstream
    up.fault("/simple/keep-b/", "404")  # the upstream lists it, and has no page for it

    report, _ = sync(services, SyncOptions(SCOPE, min_free=0))

    assert not report.ok
    assert report.failures == [("keep-b", "the upstream lists this project, but has no page for it")]

    up.fault("/simple/keep-b/", None)
    again, _ = sync(services, SyncOptions(SCOPE, min_free=0))
    assert again.ok, again.failures
    assert dists["b-linux"].filename in held(services)


@pytest.mark.parametrize("form", ["json", "html"])
def test_without_serials_each_project_is_asked_conditionally(
    services: Services, dists: dict[str, Dist], form: str
) -> None:
    up = services.upstream
    up.root_serials = False  # a JSON root without them, or an HTML root, which has none
    up.page_format = form
    first, _ = sync(services, SyncOptions(SCOPE, min_free=0))
    # HTML pages state no sizes: the size limit cannot tell keep-big's wheel from the others there.
    assert first.ok and first.files == {"fetched": 4 if form == "json" else 5}
    files_before = transfers(up)

    report, _ = sync(services, SyncOptions(SCOPE, remove=True, min_free=0))

    assert report.ok
    assert up.answered("/simple/keep-a/", 304) == 1
    assert transfers(up) == files_before
    assert report.files == {}


def test_other_filters_look_at_every_project_again(services: Services, dists: dict[str, Dist]) -> None:
    sync(services, SyncOptions(SCOPE, min_free=0))

    report, _ = sync(services, SyncOptions(replace(SCOPE, sdists=True), min_free=0))

    assert report.files == {"fetched": 1}  # keep-a 2.0's sdist
    assert dists["a2-sdist"].filename in held(services)


def test_too_little_disk_stops_with_a_sentence_before_fetching(services: Services, dists: dict[str, Dist]) -> None:
    report, _ = sync(services, SyncOptions(SCOPE, concurrency=1, min_free=1 << 60))

    assert not report.ok
    assert report.stopped is not None and "free some space" in report.stopped
    assert report.files == {}
    assert transfers(services.upstream) == 0


def test_what_a_cooldown_hides_is_fetched_by_a_sync_after_it_passed(services: Services) -> None:
    fresh = replace(make_wheel("cooling", "1.0"), upload_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z"))
    services.upstream.add(fresh)
    services.configure('[index.pypi]\nmin_age = "1h"\n')
    heard = Heard()

    async def scenario(w: Worker) -> tuple[SyncReport, SyncReport]:
        first = await MirrorSync(w.proxy(), SyncOptions(MirrorScope(), min_free=0), heard).run()
        w.clock.advance(2 * 3600)
        return first, await MirrorSync(w.proxy(), SyncOptions(MirrorScope(), min_free=0), heard).run()

    first, second = services.run(scenario)

    assert first.ok and first.withheld == 1 and first.files == {}
    assert second.withheld == 0 and second.files == {"fetched": 1}  # the serial did not move
    assert held(services) == {fresh.filename}


def test_an_interrupted_sync_resumes_where_it_stopped(services: Services, dists: dict[str, Dist]) -> None:
    up = services.upstream

    class Interrupting(Heard):
        def __init__(self, task: asyncio.Task[SyncReport]) -> None:
            super().__init__()
            self.task = task

        def project_done(self, outcome: ProjectOutcome) -> None:
            super().project_done(outcome)
            if len(self.projects) == 2:
                self.task.cancel()  # as Ctrl-C does to the command's event loop

    async def interrupted(w: Worker) -> list[str]:
        holder: list[asyncio.Task[SyncReport]] = []

        async def run() -> SyncReport:
            heard = Interrupting(holder[0])
            return await MirrorSync(w.proxy(), SyncOptions(SCOPE, concurrency=1, min_free=0), heard).run()

        holder.append(asyncio.ensure_future(run()))
        with pytest.raises(asyncio.CancelledError):
            await holder[0]
        return [s.name for batch in MirrorStates(w.catalog.engine).batches("pypi") for s in batch]

    done_first = services.run(interrupted)
    assert len(done_first) == 2
    pages = {p: up.count(f"/simple/{p}/") for p in ("gone-c", "keep-a", "keep-b", "keep-big")}

    report, _ = sync(services, SyncOptions(SCOPE, min_free=0))

    assert report.ok, report.failures
    assert report.projects == {"unchanged": 2, "synced": 2}
    for project, count in pages.items():
        assert up.count(f"/simple/{project}/") == count + (project not in done_first), project
    assert not list((services.data_dir).glob(".mirror-*")), "the work files are removed"


def test_the_work_list_joins_the_listing_and_the_catalog_rows_on_disk(tmp_path: Path) -> None:
    remembered = [
        StoredState("kept", 5, "s", None),
        StoredState("moved", 5, "s", None),
        StoredState("broken", 5, "s", "500"),
        StoredState("gone", 1, "s", None),
        StoredState("out-of-scope", 1, "s", None),
    ]
    listed = [("kept", 5, True), ("moved", 6, True), ("broken", 5, True), ("new", 1, True), ("new", 2, True)]
    listed.append(("out-of-scope", 1, False))
    with WorkList(tmp_path / "work.sqlite") as work:
        assert work.add_listed(iter(listed)) == 6
        work.add_stored(remembered)
        assert work.wanted() == 4  # "new" listed twice counts once, with its last serial
        assert list(work.in_scope()) == [
            ("broken", 5, (5, "s", True)),
            ("kept", 5, (5, "s", False)),
            ("moved", 6, (5, "s", False)),
            ("new", 2, None),
        ]
        assert work.gone() == ["gone"]  # out of scope is not gone: it is still listed
    assert not (tmp_path / "work.sqlite").exists()
