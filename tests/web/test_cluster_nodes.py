"""Servers on several hosts sharing one PostgreSQL catalog (each with a data directory of its own): what one of
them changes, every other one serves at once: new uploads on pages it had cached, revoked tokens refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from rennet.storage.accounts import ACCOUNTS_SLOT
from rennet.storage.generations import slot_of
from tests.support.accounts import add_user, create_token, token_key
from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE, upload
from tests.support.postgres import PostgresServer
from tests.support.server import LocalServer
from tests.support.store import wait_until
from tests.support.upstream import NOWHERE

CONFIG = '[index.local]\nprivate = true\nread = ["alice"]\nupload = ["alice"]\n[index.default]\nprivate = true\n'


@pytest.fixture(params=["psycopg", "psycopg2"])
def nodes(
    request: pytest.FixtureRequest, postgres_server: PostgresServer, tmp_path: Path
) -> Iterator[Callable[[], LocalServer]]:
    """Servers, each with its own data directory, on one PostgreSQL database."""
    database = Database(request.param, postgres_server)
    url = database.new_url()
    started: list[LocalServer] = []

    def node() -> LocalServer:
        data_dir = tmp_path / f"node-{len(started)}"
        server = LocalServer(data_dir, upstream_url=NOWHERE, config=CONFIG, database_url=url)
        started.append(server.start())
        return server

    yield node
    for server in started:
        server.stop()
    database.release(url)


def _versions(server: LocalServer, auth: tuple[str, str]) -> list[str]:
    page = server.get(
        "/local/simple/clustered/", auth=auth, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    assert page.status_code == 200, page.text
    versions: list[str] = page.json()["versions"]
    return versions


def test_an_upload_through_one_node_is_served_by_the_others_at_once(nodes: Callable[[], LocalServer]) -> None:
    first, second = nodes(), nodes()
    add_user(first, *ALICE)
    upload(first, make_wheel("clustered", "1.0"))
    assert _versions(second, ALICE) == ["1.0"]  # the second node renders the page, and keeps it

    upload(first, make_wheel("clustered", "2.0"))

    wait_until(lambda: _versions(second, ALICE) == ["1.0", "2.0"], "the second node serves the new release")


def test_a_token_revoked_on_one_node_is_refused_by_the_others(nodes: Callable[[], LocalServer]) -> None:
    first, second = nodes(), nodes()
    add_user(first, *ALICE)
    upload(first, make_wheel("clustered", "1.0"))
    token = ("__token__", create_token(first, "alice", scope="read"))
    assert _versions(second, token) == ["1.0"]  # verified once, then remembered by the second node

    first.registry.accounts.revoke_token(token_key(token[1]))
    first.registry.store.generations.bump(slot_of(*ACCOUNTS_SLOT))

    def refused() -> bool:
        response = second.get("/local/simple/clustered/", auth=token)
        return response.status_code in (401, 403)

    wait_until(refused, "the second node refuses the revoked token")


def test_a_password_changed_on_one_node_is_refused_by_the_others(nodes: Callable[[], LocalServer]) -> None:
    first, second = nodes(), nodes()
    add_user(first, *ALICE)
    upload(first, make_wheel("clustered", "1.0"))
    assert _versions(second, ALICE) == ["1.0"]

    first.registry.accounts.set_password("alice", "a-new-password")
    first.registry.store.generations.bump(slot_of(*ACCOUNTS_SLOT))

    wait_until(
        lambda: second.get("/local/simple/clustered/", auth=ALICE).status_code == 401, "the old password refused"
    )
    with httpx.Client() as client:
        fresh = client.get(second.url + "/local/simple/clustered/", auth=("alice", "a-new-password"))
    assert fresh.status_code == 200
