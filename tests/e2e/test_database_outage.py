"""PostgreSQL stopped under a running server: pages rendered before stay served, writes get 503 with a sentence
and Retry-After, /ready says 503, and the server recovers by itself once the database is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import add_user
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE
from tests.support.postgres import PostgresServer
from tests.support.server import RennetServer, proxy_config
from tests.support.store import wait_until
from tests.support.uploads import post_upload
from tests.support.upstream import FakeUpstream

# page_ttl 0: every request for the proxy's page asks the catalog (and the upstream) again, so the outage is met
# by a page that was served before, not by a page still fresh in memory.
CONFIG = proxy_config(page_ttl="0s") + '[index.local]\nupload = ["alice"]\n'


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own: it is stopped in the middle."""
    server = PostgresServer.start()
    yield server
    server.stop()


def test_pages_stay_served_while_postgresql_is_down(
    tmp_path: Path, own_postgres: PostgresServer, upstream: FakeUpstream
) -> None:
    upstream.add(make_wheel("proxied", "1.0"))
    server = RennetServer(
        tmp_path / "data", upstream_url=upstream.url, config=CONFIG, database_url=own_postgres.create_database()
    ).start()
    try:
        add_user(server, *ALICE)
        hosted = make_wheel("private-thing", "1.0")
        assert post_upload(server.url + "/local/", hosted, auth=ALICE).status_code == 200
        seen = ["/simple/private-thing/", "/pypi/simple/proxied/", "/local/simple/private-thing/", "/simple/"]
        before = {path: server.get(path) for path in seen}
        assert all(response.status_code == 200 for response in before.values()), before
        wheel = server.get(f"/local/files/private-thing/{hosted.filename}")
        assert wheel.content == hosted.data

        own_postgres.pause()

        for path in seen:
            during = server.get(path)
            assert during.status_code == 200, (path, during.text)
            assert during.content == before[path].content, path
        # A held file this worker remembers is still sent.
        assert server.get(f"/local/files/private-thing/{hosted.filename}").content == hosted.data

        never_seen = server.get("/local/simple/never-seen/")
        _assert_unavailable(never_seen)
        refused = post_upload(server.url + "/local/", make_wheel("during-outage", "1.0"), auth=ALICE)
        _assert_unavailable(refused)
        assert server.get("/ready").status_code == 503
        log = server.wait_for_log("the database is unavailable")
        assert "Traceback" not in log

        own_postgres.resume()

        # Recovery without a restart: the next attempt after the retry interval reaches the database again.
        late = make_wheel("during-outage", "1.0")
        answers: list[httpx.Response] = []

        def upload_taken_again() -> bool:
            answers.append(post_upload(server.url + "/local/", late, auth=ALICE))
            return answers[-1].status_code != 503

        wait_until(upload_taken_again, "an upload answered otherwise than 503 once PostgreSQL is back")
        assert answers[-1].status_code == 200, answers[-1].text
        assert server.get("/ready").status_code == 200
        assert server.get("/local/simple/during-outage/").status_code == 200
        assert server.get("/local/simple/never-seen/").status_code == 404
    finally:
        server.stop()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert "database is unavailable" in response.text
