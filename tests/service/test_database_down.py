"""While the catalog's database is down: pages this worker rendered before are served stale, a page it never saw
is refused with 503 and Retry-After, the database is left alone for DATABASE_RETRY, and then asked again.

The outage is real at the driver's level: the catalog's engine is swapped for one that cannot connect (a SQLite
file that cannot be opened, a PostgreSQL port nobody listens on)."""

from __future__ import annotations

import pytest

from rennet.service.answers import LocalFile, StreamingFile
from rennet.service.errors import Unavailable
from rennet.service.runtime.resources import DATABASE_RETRY
from tests.support.dists import make_wheel
from tests.support.services import Services, Worker, filenames, read_answer


def test_proxy_pages_while_the_database_is_down(services: Services) -> None:
    up = services.upstream
    seen, unseen = make_wheel("db-seen", "1.0", padding=100_000), make_wheel("db-unseen", "1.0")
    up.add(seen, unseen)

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        first = await proxy.project_page("db-seen")
        held = await proxy.open_file("db-seen", seen.filename)
        assert await read_answer(held) == seen.data
        if isinstance(held, StreamingFile):
            await held.download.settled()
        remembered = await proxy.open_file("db-seen", seen.filename)  # now this worker knows it is held
        assert isinstance(remembered, LocalFile)
        remembered.release()
        w.clock.advance(proxy.config.page_ttl + 1)  # due for revalidation: memory alone no longer answers
        await w.settled()  # the summary learned from the wheel: its query would be one more attempt

        outage = w.database_down()
        outage.begin()
        stale = await proxy.project_page("db-seen")
        assert stale.state == "stale"
        assert filenames(stale) == filenames(first) == [seen.filename]
        assert outage.attempts == 1

        with pytest.raises(Unavailable) as refused:
            await proxy.project_page("db-unseen")
        assert refused.value.status == 503
        assert refused.value.headers == {"Retry-After": "5"}
        # A held file this worker remembers is still sent.
        answer = await proxy.open_file("db-seen", seen.filename)
        assert await read_answer(answer) == seen.data
        assert outage.attempts == 1  # the database is left alone for DATABASE_RETRY
        assert up.count("/simple/db-") == 1  # and the upstream is not asked either

        # The database is back, but this worker asks it again only after DATABASE_RETRY.
        outage.end()
        with pytest.raises(Unavailable):
            await proxy.project_page("db-unseen")
        assert filenames(await proxy.project_page("db-seen")) == [seen.filename]

        w.clock.advance(DATABASE_RETRY)
        recovered = await proxy.project_page("db-unseen")
        assert recovered.state == "miss"
        assert filenames(recovered) == [unseen.filename]
        refreshed = await proxy.project_page("db-seen")
        assert refreshed.state == "refresh"
        assert up.answered("/simple/db-seen/", 304) == 1

    services.run(scenario)


def test_hosted_and_group_pages_while_the_database_is_down(services: Services) -> None:
    up = services.upstream
    old, new = make_wheel("db-private", "1.0"), make_wheel("db-private", "1.1")

    async def scenario(w: Worker) -> None:
        group, hosted = w.group(), w.hosted()
        await w.publish(old)
        assert filenames(await group.project_page("db-private")) == [old.filename]
        await w.publish(new)  # the pages in memory are out of date now

        with w.database_down() as outage:
            stale = await group.project_page("db-private")
            assert stale.state == "stale"
            assert filenames(stale) == [old.filename]  # what this worker had
            assert filenames(await hosted.project_page("db-private")) == [old.filename]
            for service in (hosted, group):
                with pytest.raises(Unavailable) as refused:
                    await service.project_page("db-never")
                assert refused.value.status == 503
                assert "Retry-After" in refused.value.headers
            assert outage.attempts == 1
        # Whether a hosted member has the project cannot be known: the proxy must not answer in its place.
        assert up.count("/simple/db-never/") == 0
        assert up.count("/simple/db-private/") == 0

        with pytest.raises(Unavailable):
            await group.project_page("db-never")
        w.clock.advance(DATABASE_RETRY)
        assert filenames(await group.project_page("db-private")) == [old.filename, new.filename]
        absent = await group.project_page("db-never")
        assert absent.page is None
        assert up.count("/simple/db-never/") == 1

    services.run(scenario)
