"""Commands run on a server's data directory use what the server was started with: its upstream, its database,
its configuration. They name the upstream they contact, and refuse a data directory that does not exist."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.server import RennetServer, without_rennet_variables
from tests.support.upstream import FakeUpstream


def _bare(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`rennet <args>` with no RENNET_* variable at all, as a user types it in a new shell. Traffic for https
    goes to a closed port: a command that forgot the server's (local, http) upstream for PyPI fails here."""
    env = without_rennet_variables() | {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    return subprocess.run(
        [sys.executable, "-m", "rennet", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


def test_commands_use_the_servers_upstream_and_database(
    process_factory: Callable[..., RennetServer], upstream: FakeUpstream, database: Database
) -> None:
    upstream.add(make_wheel("remembered", "1.0"))
    server = process_factory(upstream_url=upstream.url, config='[index.local]\nupload = ["alice"]\n')
    assert server.get("/pypi/simple/remembered/").status_code == 200
    data = str(server.data_dir)

    refreshed = _bare("refresh", "--older-than", "0s", "--data-dir", data)
    assert refreshed.returncode == 0, refreshed.stderr
    assert f"pypi: upstream {upstream.url}" in refreshed.stderr
    assert upstream.count("/simple/remembered/") == 2  # the page was revalidated where it came from

    added = _bare("user", "add", "alice", "--password-stdin", "--data-dir", data, stdin="alice-password\n")
    assert added.returncode == 0, added.stderr
    # The server knows the user: the command wrote to the server's catalog (PostgreSQL too), not to a new one.
    accepted = httpx.post(
        server.url + "/local/", auth=("alice", "alice-password"), content=b"", headers={"content-type": "x/y"}
    )
    assert accepted.status_code == 400, accepted.text  # past the login, refused for its form
    assert "multipart/form-data" in accepted.text
    if database.is_postgres:
        assert not (server.data_dir / "rennet.sqlite3").exists()


def test_a_data_directory_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    for args in (["user", "add", "bob", "--password-stdin"], ["stats"], ["refresh"], ["gc"]):
        refused = _bare(*args, "--data-dir", str(missing), stdin="bob-password\n")
        assert refused.returncode == 2, (args, refused.stderr)
        assert f"there is no rennet data directory at {missing}" in refused.stderr
        assert not missing.exists()
