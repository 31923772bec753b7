"""The server most hosting tests share: alice uploads to local, and one in-process server per module and catalog.

A module takes it with `server = hosted_server(...)`, which makes the module's `server` fixture; its tests use
project names of their own, so that they do not disturb each other. Tests that reuse names take a new server each
(`hosted_server(scope="function")`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Literal

import pytest

from tests.support.accounts import serving
from tests.support.databases import Database
from tests.support.dists import Dist
from tests.support.server import LocalServer, Server
from tests.support.uploads import post_upload
from tests.support.upstream import NOWHERE, FakeUpstream

ALICE = ("alice", "alice-password")
# alice uploads to local, the built-in hosted index; the built-in default group is local, then pypi.
UPLOADS = '[index.local]\nupload = ["alice"]\n'


def hosted_server(
    config: str = UPLOADS,
    users: Collection[tuple[str, str]] = (ALICE,),
    *,
    admins: Collection[str] = (),
    upstream: Sequence[Dist] | None = (),
    uploads: Sequence[Dist] = (),
    scope: Literal["module", "function"] = "module",
) -> object:
    """A module-scoped `server` fixture (assign it to `server` in the module; with `scope="function"`, one server
    per test): an in-process server on `config`, one per catalog (the `database` fixture), with these (name,
    password) users, the `admins` among them admins. Its pypi index asks `module_upstream`, which holds the
    `upstream` files from the start (one per catalog: tests may count what it was asked); with `upstream=None`
    nothing listens there (pypi is never asked). alice uploads `uploads` to local before the tests run."""

    @pytest.fixture(scope=scope, name="server")
    def server(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, database: Database
    ) -> Iterator[LocalServer]:
        url = NOWHERE
        if upstream is not None:
            fake: FakeUpstream = request.getfixturevalue("module_upstream")
            url = fake.add(*upstream).url
        base = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
        with serving(base, config, users, admins, upstream_url=url, database=database) as rennet:
            upload(rennet, *uploads)
            yield rennet

    return server


def upload(server: Server, *dists: Dist, index: str = "local", auth: tuple[str, str] = ALICE) -> None:
    """alice (or `auth`) uploads each of `dists` to `index`, which accepts it."""
    for dist in dists:
        response = post_upload(f"{server.url}/{index}/", dist, auth=auth)
        assert response.status_code == 200, response.text
