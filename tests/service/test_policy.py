"""Supply-chain policy, in-process: `min_age` holds new upstream files back from pages and downloads until they
cross the limit (by themselves: the page expires at the crossing), `deny` refuses names and versions on every
path, a group keeps hidden what a member's policy hides, and a snapshot serves an index as it was at an instant.
Time moves by the worker's clock."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rennet.domain.indexes import HostedIndex
from rennet.service.errors import ServiceError
from rennet.service.indexes.snapshot import SnapshotService
from rennet.service.publishing.publish import UploadDenied
from tests.support.dists import Dist, make_sdist, make_wheel
from tests.support.services import Services, Worker, filenames, publish_dist, read_answer, until

HOUR = 3600.0


def uploaded(dist: Dist, seconds_ago: float) -> Dist:
    """The distribution as the upstream lists it, uploaded that long before now (PEP 700)."""
    when = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return replace(dist, upload_time=when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def upload_instant(dist: Dist) -> float:
    assert dist.upload_time is not None
    return datetime.strptime(dist.upload_time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


async def refusal(opening: asyncio.Future[object] | object) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        await opening  # type: ignore[misc]
    assert raised.value.status == 403
    return raised.value


def test_min_age_holds_a_new_file_back_until_it_crosses_by_itself(services: Services) -> None:
    up = services.upstream
    services.configure('[index.pypi]\nmin_age = "1h"\npage_ttl = "1d"\n')
    old = uploaded(make_wheel("cooling", "1.0"), 2 * HOUR)
    new = uploaded(make_wheel("cooling", "2.0"), 600)
    up.add(old, new)
    crossing = upload_instant(new) + HOUR

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        page = await proxy.project_page("cooling")
        assert filenames(page) == [old.filename]
        # Not fresh for the whole day of page_ttl: until the held-back file crosses the limit.
        assert page.fresh_until == pytest.approx(crossing)
        refused = await refusal(proxy.open_file("cooling", new.filename))
        assert refused.message.startswith(
            f"{new.filename} is held back by index 'pypi''s min_age of 1 hour: it was uploaded "
        )
        assert refused.message.endswith(" and may be installed from " + _rfc3339(crossing))
        await refusal(proxy.open_metadata("cooling", new.filename))
        assert up.requests[f"/files/{new.filename}"] == 0

        w.clock.advance(crossing - w.clock.now() + 1)
        later = await proxy.project_page("cooling")
        assert filenames(later) == [old.filename, new.filename]
        assert up.count("/simple/cooling/") == 1  # nobody refreshed anything: the page expired at the crossing
        assert await read_answer(await proxy.open_file("cooling", new.filename)) == new.data

        counts = w.shared.metrics.take().policy
        assert counts[("pypi", "min_age", "hidden")] == 1
        assert counts[("pypi", "min_age", "refused")] == 2

    services.run(scenario)


def test_without_upstream_upload_times_the_first_sighting_counts(services: Services) -> None:
    up = services.upstream
    services.configure('[index.pypi]\nmin_age = "1h"\npage_ttl = "1d"\n')
    timeless = replace(make_sdist("timeless", "1.0"), upload_time=None)
    up.add(timeless)

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        first = await proxy.project_page("timeless")
        assert filenames(first) == []
        refused = await refusal(proxy.open_file("timeless", timeless.filename))
        assert "it was first seen by rennet (its index states no upload time)" in refused.message

        w.clock.advance(HOUR + 1)
        assert filenames(await proxy.project_page("timeless")) == [timeless.filename]
        # Fetching it records an upload time of its own (now, later than the sighting): it stays offered.
        assert await read_answer(await proxy.open_file("timeless", timeless.filename)) == timeless.data

        def recorded() -> bool:
            record = w.catalog.file("pypi", "timeless", timeless.filename)
            return record is not None and record.upload_time is not None

        await until(recorded, "the download is recorded with an upload time")
        assert filenames(await proxy.project_page("timeless")) == [timeless.filename]

    services.run(scenario)


def test_exempt_projects_and_pins_skip_the_cooldown(services: Services) -> None:
    up = services.upstream
    services.configure('[index.pypi]\nmin_age = "7d"\nmin_age_exempt = ["urgent-fix==2.0", "trusted"]\n')
    fix, other = uploaded(make_wheel("urgent-fix", "2.0"), 60), uploaded(make_wheel("urgent-fix", "2.1"), 60)
    trusted = uploaded(make_wheel("trusted", "5.0"), 60)
    up.add(fix, other, trusted)

    async def scenario(w: Worker) -> None:
        assert filenames(await w.proxy().project_page("urgent-fix")) == [fix.filename]
        assert filenames(await w.proxy().project_page("trusted")) == [trusted.filename]

    services.run(scenario)


def test_a_member_policy_holds_in_the_group_on_pages_and_files(services: Services) -> None:
    up = services.upstream
    services.configure('[index.pypi]\nmin_age = "1h"\npage_ttl = "1d"\ndeny = ["grouped-evil"]\n')
    old = uploaded(make_wheel("grouped", "1.0"), 2 * HOUR)
    new = uploaded(make_wheel("grouped", "2.0"), 60)
    evil = uploaded(make_wheel("grouped-evil", "1.0"), 2 * HOUR)
    up.add(old, new, evil)

    async def scenario(w: Worker) -> None:
        group = w.group()
        page = await group.project_page("grouped")
        assert filenames(page) == [old.filename]
        assert page.fresh_until == pytest.approx(upload_instant(new) + HOUR)
        refused = await refusal(group.open_file("grouped", new.filename))
        assert "index 'pypi''s min_age of 1 hour" in refused.message
        assert filenames(await group.project_page("grouped-evil")) == []
        refused = await refusal(group.open_file("grouped-evil", evil.filename))
        assert refused.message == f"{evil.filename} is denied by index 'pypi''s deny rule 'grouped-evil'"
        assert up.requests[f"/files/{new.filename}"] == up.requests[f"/files/{evil.filename}"] == 0

        w.clock.advance(HOUR)
        assert filenames(await group.project_page("grouped")) == [old.filename, new.filename]

    services.run(scenario)


def test_a_group_cooldown_judges_upstream_files_not_private_ones(services: Services) -> None:
    up = services.upstream
    services.configure('[index.default]\nmin_age = "1h"\nmin_age_exempt = ["group-cooled==0.9"]\n')
    public = uploaded(make_wheel("group-cooled", "1.0"), 60)
    pinned = uploaded(make_wheel("group-cooled", "0.9"), 60)
    private = make_wheel("group-private", "1.0")
    up.add(public, pinned)

    async def scenario(w: Worker) -> None:
        await w.publish(private)
        group = w.group()
        assert filenames(await group.project_page("group-cooled")) == [pinned.filename]
        refused = await refusal(group.open_file("group-cooled", public.filename))
        assert "index 'default''s min_age of 1 hour" in refused.message
        assert filenames(await group.project_page("group-private")) == [private.filename]
        # The proxy itself has no cooldown.
        assert filenames(await w.proxy().project_page("group-cooled")) == [public.filename, pinned.filename]

    services.run(scenario)


def test_deny_hides_matching_versions_and_refuses_uploads(services: Services) -> None:
    up = services.upstream
    services.configure('[index.pypi]\ndeny = ["denied-thing==1.*"]\n[index.local]\ndeny = ["leaked-name"]\n')
    bad, good = make_wheel("denied-thing", "1.5"), make_wheel("denied-thing", "2.0")
    up.add(bad, good)
    leaked = make_wheel("leaked-name", "1.0")

    async def scenario(w: Worker) -> None:
        assert filenames(await w.proxy().project_page("denied-thing")) == [good.filename]
        refused = await refusal(w.proxy().open_file("denied-thing", bad.filename))
        assert refused.message == f"{bad.filename} is denied by index 'pypi''s deny rule 'denied-thing==1.*'"

        local = w.registry.settings.indexes["local"]
        assert isinstance(local, HostedIndex)
        with pytest.raises(UploadDenied) as denied:
            await asyncio.to_thread(publish_dist, w.shared, local, leaked)
        assert denied.value.status == 403
        assert denied.value.message == f"{leaked.filename} is denied by index 'local''s deny rule 'leaked-name'"
        assert w.catalog.project("local", "leaked-name") is None

    services.run(scenario)


def test_a_policy_set_later_applies_to_what_is_held(services: Services) -> None:
    """Pages and files rennet held before a rule existed are judged by it after the restart that brings it."""
    up = services.upstream
    held = make_wheel("held-then-denied", "1.0")
    up.add(held)

    async def before(w: Worker) -> None:
        assert await read_answer(await w.proxy().open_file("held-then-denied", held.filename)) == held.data

    services.run(before)
    services.configure('[index.pypi]\ndeny = ["held-then-denied"]\n')

    async def after(w: Worker) -> None:
        assert filenames(await w.proxy().project_page("held-then-denied")) == []
        await refusal(w.proxy().open_file("held-then-denied", held.filename))
        await refusal(w.group().open_file("held-then-denied", held.filename))

    services.run(after)


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_snapshot_serves_an_index_as_it_was_at_an_instant(services: Services) -> None:
    up = services.upstream
    before = uploaded(make_wheel("snapped", "1.0"), 3 * HOUR)
    after = uploaded(make_wheel("snapped", "2.0"), HOUR)
    private = make_wheel("snapped-private", "1.0")
    up.add(before, after)
    instant = float(int(upload_instant(before)) + 60)  # whole seconds, as people write them

    async def scenario(w: Worker) -> None:
        snapshot = SnapshotService(w.group(), instant, w.shared)
        page = await snapshot.project_page("snapped")
        assert filenames(page) == [before.filename]
        assert page.via == f"default/snapshot/{_rfc3339(instant)}"  # its files' URLs lead below the snapshot
        refused = await refusal(snapshot.open_file("snapped", after.filename))
        assert refused.message == (
            f"{after.filename} is not in the snapshot of index 'default' at {_rfc3339(instant)}: it was uploaded "
            f"{_rfc3339(upload_instant(after))}"
        )
        assert await read_answer(await snapshot.open_file("snapped", before.filename)) == before.data
        assert up.requests[f"/files/{after.filename}"] == 0
        # The index itself serves both, and a second look at the snapshot is the page it made.
        assert filenames(await w.group().project_page("snapped")) == [before.filename, after.filename]
        assert await snapshot.project_page("snapped") is page

        await w.publish(private)  # uploaded after the instant: not in the snapshot, in the index at once
        assert filenames(await snapshot.project_page("snapped-private")) == []
        assert filenames(await w.group().project_page("snapped-private")) == [private.filename]
        assert filenames(await SnapshotService(w.hosted(), w.clock.now(), w.shared).project_page("snapped-private"))

    services.run(scenario)
