"""The catalog on real databases (SQLite and PostgreSQL): refresh diffs, what survives a refresh, versions, gone
files."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from rennet.domain.changes import PageChanges
from rennet.domain.files import DistFile, ProjectPage, ProjectStatus
from rennet.domain.validators import UpstreamValidators
from rennet.storage.catalog import Catalog, ListingRecord, ProjectRecord
from rennet.storage.database import connect, migrate
from rennet.storage.maintenance import CatalogMaintenance
from rennet.storage.schema import files as files_table
from rennet.storage.schema import versions as versions_table

INDEX = "pypi"
NO_VALIDATORS = UpstreamValidators()
UPLOADED = datetime(2024, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


@pytest.fixture
def catalog(tmp_path: Path, catalog_url: str) -> Iterator[Catalog]:
    engine = connect(catalog_url)
    migrate(engine, tmp_path / "migrate.lock")
    yield Catalog(engine)
    engine.dispose()


def dist(filename: str, **fields: Any) -> DistFile:
    values: dict[str, Any] = {
        "index": INDEX,
        "hashes": {"sha256": hashlib.sha256(filename.encode()).hexdigest()},
        "source_url": f"https://files.test/{filename}",
    }
    values.update(fields)
    return DistFile(filename=filename, **values)


def upstream(*files: DistFile, **fields: Any) -> ProjectPage:
    return ProjectPage("foo", files, **fields)  # type: ignore[arg-type]


def store(
    catalog: Catalog, page: ProjectPage, at: float = 1000.0, validators: UpstreamValidators = NO_VALIDATORS
) -> tuple[ProjectRecord, PageChanges]:
    return catalog.store_upstream_page(INDEX, "foo", page, validators, at)


def listed(catalog: Catalog) -> dict[str, DistFile]:
    record = catalog.project(INDEX, "foo")
    assert record is not None
    return {f.filename: f for f in catalog.page(record).files}


def hold(
    catalog: Catalog, filename: str, size: int, upload_time: float | None = None, sha: str | None = None
) -> None:
    """What the proxy does once it has downloaded and verified a file."""
    record = catalog.file(INDEX, "foo", filename)
    assert record is not None
    catalog.record_blob(record, sha or record.hashes.get("sha256") or "f" * 64, size, upload_time)


# -- first fetch --------------------------------------------------------------------------------------------------


def test_first_fetch_stores_everything(catalog: Catalog) -> None:
    page = upstream(
        dist(
            "foo-1.0-py3-none-any.whl",
            requires_python=">=3.8",
            size=10,
            upload_time=UPLOADED,
            core_metadata={"sha256": "c" * 64},
            provenance="https://p.test/1",
        ),
        dist("foo-1.0.tar.gz", yanked=True, yanked_reason="oops", core_metadata={}),
        versions=("1.0",),
        status=ProjectStatus.DEPRECATED,
        status_reason="use bar",
    )
    record, changes = store(catalog, page, validators=UpstreamValidators('"e1"', "Mon, 01 Jan 2024 00:00:00 GMT"))
    assert changes.added == ["foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz"]
    assert changes.meta_changed
    assert (record.index_name, record.name, record.display_name) == (INDEX, "foo", "foo")
    assert record.status is ProjectStatus.DEPRECATED
    assert record.status_reason == "use bar"
    assert record.upstream_etag == '"e1"'
    assert record.upstream_last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert record.fetched_at == 1000.0
    assert record.serial == 1
    assert not record.missing
    stored = catalog.page(record)
    assert stored.files == page.files  # every field round-trips, microseconds included
    # When rennet first listed them, by the clock of the fetch (policy's min_age reads it: domain/policy.py).
    assert {file.first_seen for file in stored.files} == {datetime.fromtimestamp(1000.0, UTC)}
    assert stored.versions == ("1.0",)
    assert (stored.status, stored.status_reason) == (ProjectStatus.DEPRECATED, "use bar")
    assert catalog.project(INDEX, "foo") == record
    assert catalog.project("other", "foo") is None
    assert catalog.project(INDEX, "bar") is None


def test_file_record(catalog: Catalog) -> None:
    store(catalog, upstream(dist("foo-1.0.tar.gz", hashes={"md5": "m" * 32}, core_metadata={}, size=3)))
    record = catalog.file(INDEX, "foo", "foo-1.0.tar.gz")
    assert record is not None
    assert (record.index_name, record.project, record.filename) == (INDEX, "foo", "foo-1.0.tar.gz")
    assert record.hashes == {"md5": "m" * 32}
    assert record.core_metadata == {}
    assert record.size == 3
    assert record.source_url == "https://files.test/foo-1.0.tar.gz"
    assert record.blob_sha256 is None
    assert record.metadata_sha256 is None
    assert catalog.file(INDEX, "foo", "foo-2.0.tar.gz") is None
    assert catalog.file("other", "foo", "foo-1.0.tar.gz") is None


# -- refreshes ----------------------------------------------------------------------------------------------------


def test_refresh_without_change(catalog: Catalog) -> None:
    page = upstream(dist("foo-1.0.tar.gz", upload_time=UPLOADED), versions=("1.0",))
    first, _ = store(catalog, page)
    again, changes = store(catalog, page, at=2000.0, validators=UpstreamValidators('"e2"'))
    assert not changes
    assert again.serial == first.serial
    assert again.fetched_at == 2000.0
    assert again.upstream_etag == '"e2"'


def test_refresh_diff(catalog: Catalog) -> None:
    store(
        catalog,
        upstream(
            dist("foo-1.0.tar.gz"),
            dist("foo-2.0.tar.gz"),
            dist("foo-3.0.tar.gz", yanked=True),
            dist("foo-4.0.tar.gz"),
        ),
    )
    record, changes = store(
        catalog,
        upstream(
            dist("foo-1.0.tar.gz", yanked=True, yanked_reason="bad"),
            dist("foo-3.0.tar.gz"),
            dist("foo-4.0.tar.gz", requires_python=">=3.12"),
            dist("foo-5.0.tar.gz"),
        ),
    )
    assert changes.added == ["foo-5.0.tar.gz"]
    assert changes.gone == ["foo-2.0.tar.gz"]
    assert changes.yanked == ["foo-1.0.tar.gz"]
    assert changes.unyanked == ["foo-3.0.tar.gz"]
    assert changes.updated == ["foo-4.0.tar.gz"]
    assert record.serial == 2
    now = listed(catalog)
    assert set(now) == {"foo-1.0.tar.gz", "foo-3.0.tar.gz", "foo-4.0.tar.gz", "foo-5.0.tar.gz"}
    assert now["foo-1.0.tar.gz"].yanked
    assert now["foo-1.0.tar.gz"].yanked_reason == "bad"
    assert not now["foo-3.0.tar.gz"].yanked
    assert now["foo-4.0.tar.gz"].requires_python == ">=3.12"


def test_gone_files_are_listed_only_while_cached(catalog: Catalog) -> None:
    store(catalog, upstream(dist("foo-1.0.tar.gz"), dist("foo-2.0.tar.gz")))
    hold(catalog, "foo-1.0.tar.gz", size=5)
    _, changes = store(catalog, upstream())
    assert sorted(changes.gone) == ["foo-1.0.tar.gz", "foo-2.0.tar.gz"]
    assert list(listed(catalog)) == ["foo-1.0.tar.gz"]
    # Gone stays gone: a second refresh does not report it again.
    _, changes = store(catalog, upstream())
    assert not changes
    record = catalog.file(INDEX, "foo", "foo-2.0.tar.gz")
    assert record is not None  # still known, so a pinned URL can be answered from the cache later


def test_a_gone_file_that_returns_is_added_again(catalog: Catalog) -> None:
    store(catalog, upstream(dist("foo-1.0.tar.gz")))
    hold(catalog, "foo-1.0.tar.gz", size=5, upload_time=1.5e9)
    store(catalog, upstream())
    _, changes = store(catalog, upstream(dist("foo-1.0.tar.gz")))
    assert changes.added == ["foo-1.0.tar.gz"]
    back = listed(catalog)["foo-1.0.tar.gz"]
    # What we learned holding the bytes is still true of them.
    assert back.size == 5
    assert back.upload_time == datetime.fromtimestamp(1.5e9, UTC)
    with catalog.engine.connect() as conn:
        assert conn.execute(select(files_table.c.gone)).scalars().all() == [False]


def test_learned_size_and_upload_time_survive_a_refresh_that_omits_them(catalog: Catalog) -> None:
    store(catalog, upstream(dist("foo-1.0.tar.gz"), dist("foo-2.0.tar.gz", upload_time=UPLOADED)))
    hold(catalog, "foo-1.0.tar.gz", size=1234, upload_time=1.6e9)
    hold(catalog, "foo-2.0.tar.gz", size=99, upload_time=1.6e9)
    before = catalog.project(INDEX, "foo")
    record, changes = store(catalog, upstream(dist("foo-1.0.tar.gz"), dist("foo-2.0.tar.gz")))
    assert not changes
    assert before is not None
    assert record.serial == before.serial
    now = listed(catalog)
    assert now["foo-1.0.tar.gz"].size == 1234
    assert now["foo-1.0.tar.gz"].upload_time == datetime.fromtimestamp(1.6e9, UTC)
    assert now["foo-2.0.tar.gz"].size == 99
    assert now["foo-2.0.tar.gz"].upload_time == UPLOADED  # the upstream's own time wins over the download time


def test_upstream_values_win_when_given(catalog: Catalog) -> None:
    store(catalog, upstream(dist("foo-1.0.tar.gz")))
    hold(catalog, "foo-1.0.tar.gz", size=10, upload_time=1.6e9)
    _, changes = store(catalog, upstream(dist("foo-1.0.tar.gz", size=10, upload_time=UPLOADED)))
    assert changes.updated == ["foo-1.0.tar.gz"]
    assert listed(catalog)["foo-1.0.tar.gz"].upload_time == UPLOADED


def test_a_changed_upstream_hash_drops_the_bytes_we_hold(catalog: Catalog) -> None:
    store(catalog, upstream(dist("foo-1.0-py3-none-any.whl", hashes={"sha256": "1" * 64})))
    hold(catalog, "foo-1.0-py3-none-any.whl", size=50, upload_time=1.6e9)
    record = catalog.file(INDEX, "foo", "foo-1.0-py3-none-any.whl")
    assert record is not None
    catalog.record_metadata(record, "2" * 64)
    _, changes = store(catalog, upstream(dist("foo-1.0-py3-none-any.whl", hashes={"sha256": "3" * 64})))
    assert changes.updated == ["foo-1.0-py3-none-any.whl"]
    after = catalog.file(INDEX, "foo", "foo-1.0-py3-none-any.whl")
    assert after is not None
    assert after.hashes == {"sha256": "3" * 64}
    # The held bytes and their metadata belong to the old hash: serving them would fail every hash check.
    assert after.blob_sha256 is None
    assert after.metadata_sha256 is None
    assert after.size is None
    listed_file = listed(catalog)["foo-1.0-py3-none-any.whl"]
    assert listed_file.hashes == {"sha256": "3" * 64}
    assert listed_file.core_metadata is None


def test_yanking_a_held_file_keeps_its_bytes(catalog: Catalog) -> None:
    store(catalog, upstream(dist("foo-1.0.tar.gz")))
    hold(catalog, "foo-1.0.tar.gz", size=5)
    held = catalog.file(INDEX, "foo", "foo-1.0.tar.gz")
    _, changes = store(catalog, upstream(dist("foo-1.0.tar.gz", yanked=True)))
    assert changes.yanked == ["foo-1.0.tar.gz"]
    after = catalog.file(INDEX, "foo", "foo-1.0.tar.gz")
    assert held is not None and after is not None
    assert after.blob_sha256 == held.blob_sha256 is not None
    assert after.size == 5


def test_held_bytes_complete_the_listing(catalog: Catalog) -> None:
    store(catalog, upstream(dist("foo-1.0-py3-none-any.whl", hashes={"md5": "m" * 32}, core_metadata={})))
    hold(catalog, "foo-1.0-py3-none-any.whl", size=7, sha="a" * 64)
    record = catalog.file(INDEX, "foo", "foo-1.0-py3-none-any.whl")
    assert record is not None
    assert record.blob_sha256 == "a" * 64
    catalog.record_metadata(record, "b" * 64)
    file = listed(catalog)["foo-1.0-py3-none-any.whl"]
    assert file.hashes == {"md5": "m" * 32, "sha256": "a" * 64}
    assert file.core_metadata == {"sha256": "b" * 64}
    assert file.size == 7


def test_record_blob_keeps_a_known_upload_time_and_bumps_the_serial(catalog: Catalog) -> None:
    record, _ = store(catalog, upstream(dist("foo-1.0.tar.gz", upload_time=UPLOADED)))
    hold(catalog, "foo-1.0.tar.gz", size=1, upload_time=1.0)
    after = catalog.project(INDEX, "foo")
    assert after is not None
    assert after.serial == record.serial + 1
    assert listed(catalog)["foo-1.0.tar.gz"].upload_time == UPLOADED


# -- versions and status ------------------------------------------------------------------------------------------


def stored_versions(catalog: Catalog) -> list[str]:
    with catalog.engine.connect() as conn:
        return sorted(conn.execute(select(versions_table.c.version)).scalars())


def test_versions_table_follows_the_upstream(catalog: Catalog) -> None:
    store(catalog, upstream(versions=("1.0", "2.0")))
    assert stored_versions(catalog) == ["1.0", "2.0"]
    _, changes = store(catalog, upstream(versions=("2.0", "3.0")))
    assert changes.meta_changed
    assert stored_versions(catalog) == ["2.0", "3.0"]
    record = catalog.project(INDEX, "foo")
    assert record is not None
    assert sorted(catalog.page(record).versions) == ["2.0", "3.0"]
    _, changes = store(catalog, upstream(versions=("3.0", "2.0")))
    assert not changes
    store(catalog, upstream())
    assert stored_versions(catalog) == []


def test_file_versions_are_recorded(catalog: Catalog) -> None:
    store(catalog, upstream(dist("foo-1.0.post1-py3-none-any.whl"), dist("README.txt")))
    with catalog.engine.connect() as conn:
        rows = dict(conn.execute(select(files_table.c.filename, files_table.c.version)).all())
    assert rows == {"foo-1.0.post1-py3-none-any.whl": "1.0.post1", "README.txt": None}


def test_status_change_is_a_change(catalog: Catalog) -> None:
    first, _ = store(catalog, upstream())
    second, changes = store(catalog, upstream(status=ProjectStatus.QUARANTINED, status_reason="malware"))
    assert changes.meta_changed
    assert second.serial == first.serial + 1
    assert second.status is ProjectStatus.QUARANTINED
    _, changes = store(catalog, upstream(status=ProjectStatus.QUARANTINED, status_reason="malware"))
    assert not changes
    _, changes = store(catalog, upstream(status=ProjectStatus.QUARANTINED, status_reason="cleared soon"))
    assert changes.meta_changed
    fourth, changes = store(catalog, upstream())
    assert changes.meta_changed
    assert fourth.status is None


def test_missing_then_found(catalog: Catalog) -> None:
    missing = catalog.store_missing(INDEX, "foo", 500.0)
    assert missing.missing
    assert missing.fetched_at == 500.0
    assert catalog.project_names(INDEX) == []
    record, changes = store(catalog, upstream())
    assert not record.missing
    assert changes.meta_changed
    assert catalog.project_names(INDEX) == ["foo"]


def test_missing_clears_validators(catalog: Catalog) -> None:
    store(catalog, upstream(), validators=UpstreamValidators('"e"', "yesterday"))
    record = catalog.store_missing(INDEX, "foo", 600.0)
    assert (record.upstream_etag, record.upstream_last_modified, record.missing) == (None, None, True)


def test_touch_project(catalog: Catalog) -> None:
    record, _ = store(catalog, upstream(), validators=UpstreamValidators('"e"', "yesterday"))
    catalog.touch_project(record.id, 3000.0, UpstreamValidators())
    touched = catalog.project(INDEX, "foo")
    assert touched is not None
    assert (touched.fetched_at, touched.upstream_etag, touched.upstream_last_modified) == (3000.0, '"e"', "yesterday")
    catalog.touch_project(record.id, 4000.0, UpstreamValidators('"f"', "today"))
    touched = catalog.project(INDEX, "foo")
    assert touched is not None
    assert (touched.fetched_at, touched.upstream_etag, touched.upstream_last_modified) == (4000.0, '"f"', "today")
    assert touched.serial == record.serial


def test_indexes_and_projects_are_separate(catalog: Catalog) -> None:
    catalog.store_upstream_page("a", "Foo", upstream(dist("foo-1.0.tar.gz", index="a")), NO_VALIDATORS, 1.0)
    catalog.store_upstream_page("b", "foo", upstream(dist("foo-2.0.tar.gz", index="b")), NO_VALIDATORS, 1.0)
    bar = ProjectPage("bar", (DistFile("bar-1.0.tar.gz", "a"),))  # type: ignore[arg-type]
    catalog.store_upstream_page("a", "Bar", bar, NO_VALIDATORS, 1.0)
    record = catalog.project("a", "foo")
    assert record is not None
    assert [f.filename for f in catalog.page(record).files] == ["foo-1.0.tar.gz"]
    assert all(f.index == "a" for f in catalog.page(record).files)
    assert catalog.project_names("a") == ["Bar", "Foo"]
    assert catalog.project_names("b") == ["foo"]


def test_listing_records(catalog: Catalog) -> None:
    assert catalog.listing(INDEX) is None
    first = ListingRecord(INDEX, '"e"', None, 10.0, "d" * 64, 3)
    catalog.store_listing(first)
    assert catalog.listing(INDEX) == first
    second = replace(first, count=4, upstream_etag=None)
    catalog.store_listing(second)
    assert catalog.listing(INDEX) == second
    catalog.ping()


# -- concurrent writers -------------------------------------------------------------------------------------------


def _url(catalog: Catalog) -> str:
    return catalog.engine.url.render_as_string(hide_password=False)


def _racing_catalogs(url: str, count: int) -> list[Catalog]:
    """Catalogs on one database, each with its own engine (as worker processes have), whose writers all reach
    their first insert of a file before any of them makes it: the moment two refreshes collide."""
    barrier = threading.Barrier(count)
    catalogs = []
    for _ in range(count):
        engine = connect(url)

        @event.listens_for(engine, "before_cursor_execute")
        def meet(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO FILES"):
                # A writer that holds the project waits in vain (its rival waits for it): go on, then.
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=2)

        catalogs.append(Catalog(engine))
    return catalogs


def _store_concurrently(catalogs: list[Catalog], page: ProjectPage) -> list[PageChanges]:
    with ThreadPoolExecutor(len(catalogs)) as pool:
        futures = [pool.submit(c.store_upstream_page, INDEX, "foo", page, NO_VALIDATORS, 1000.0) for c in catalogs]
        return [future.result()[1] for future in futures]


@pytest.mark.parametrize("existing", [False, True])
def test_concurrent_refreshes_of_one_page_agree(catalog: Catalog, tmp_path: Path, existing: bool) -> None:
    if existing:
        store(catalog, upstream(dist("foo-1.0.tar.gz"), versions=("1.0",)))
    page = upstream(dist("foo-1.0.tar.gz"), dist("foo-2.0.tar.gz"), versions=("1.0", "2.0"))
    racing = _racing_catalogs(_url(catalog), 2)
    try:
        changes = _store_concurrently(racing, page)
    finally:
        for rival in racing:
            rival.engine.dispose()
    # Each change is reported (and bumps the serial) once: the second writer sees what the first stored.
    added = sorted(name for change in changes for name in change.added)
    assert added == (["foo-2.0.tar.gz"] if existing else ["foo-1.0.tar.gz", "foo-2.0.tar.gz"])
    assert sorted(listed(catalog)) == ["foo-1.0.tar.gz", "foo-2.0.tar.gz"]
    assert stored_versions(catalog) == ["1.0", "2.0"]
    record = catalog.project(INDEX, "foo")
    assert record is not None and record.serial == (2 if existing else 1)


@pytest.mark.parametrize("writer", ["page", "missing"])
def test_a_project_row_dropped_by_gc_meanwhile_is_made_again(catalog: Catalog, tmp_path: Path, writer: str) -> None:
    """`rennet gc` drops an expired "no such project" row just as a server refreshes that very name."""
    catalog.store_missing(INDEX, "foo", 10.0)
    gc_engine = connect(_url(catalog))
    dropped: list[int] = []

    def drop_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE projects SET serial") and not dropped:
            dropped.append(CatalogMaintenance(gc_engine).drop_missing(INDEX, confirmed_before=1000.0))

    event.listen(catalog.engine, "before_cursor_execute", drop_first)
    try:
        if writer == "page":
            record, _ = store(catalog, upstream(dist("foo-1.0.tar.gz")), at=2000.0)
            assert list(listed(catalog)) == ["foo-1.0.tar.gz"]
        else:
            record = catalog.store_missing(INDEX, "foo", 2000.0)
    finally:
        event.remove(catalog.engine, "before_cursor_execute", drop_first)
        gc_engine.dispose()
    assert dropped == [1]
    assert catalog.project(INDEX, "foo") == record
    assert (record.missing, record.fetched_at) == (writer == "missing", 2000.0)
