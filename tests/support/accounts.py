"""Users and tokens for the tests: made through the accounts service of an in-process server (what the `rennet
user` and `rennet token` commands call), or with the real commands against a server in a process of its own."""

from __future__ import annotations

import itertools
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from rennet.config import parse_duration
from rennet.domain.access import Access
from tests.support.databases import Database
from tests.support.server import CliResult, LocalServer, Server


def rennet_cli(server: Server, *args: str, stdin: str | None = None) -> CliResult:
    """`rennet <args>` on the server's data directory, database and configuration (while it runs, or not)."""
    return server.cli(*args, stdin=stdin)


def add_user(server: Server, name: str, password: str, admin: bool = False) -> None:
    if isinstance(server, LocalServer):
        server.registry.accounts.add_user(name, password, admin=admin)
        _accounts_changed(server)
        return
    flags = ["--admin"] if admin else []
    result = rennet_cli(server, "user", "add", name, *flags, "--password-stdin", stdin=password + "\n")
    assert result.returncode == 0, result.stderr


def create_token(
    server: Server, user: str, index: str | None = None, scope: str = "upload", expires: str | None = None
) -> str:
    """A new token, as `rennet token create` makes it."""
    if isinstance(server, LocalServer):
        expires_at = time.time() + parse_duration(expires) if expires is not None else None
        token: str = server.registry.accounts.create_token(user, index, Access(scope), expires_at)[0]
        _accounts_changed(server)
        return token
    args = ["token", "create", "--user", user, "--scope", scope]
    if index is not None:
        args += ["--index", index]
    if expires is not None:
        args += ["--expires", expires]
    result = rennet_cli(server, *args)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("rnt_") and "\n" not in token, result.stdout
    return token


def _accounts_changed(server: LocalServer) -> None:
    """What the commands do after every change: every worker forgets the credentials it verified."""
    server.registry.store.accounts_changed()


@contextmanager
def serving(
    base: Path,
    config: str,
    users: Iterable[tuple[str, str]] = (),
    admins: Collection[str] = (),
    upstream_url: str | None = None,
    database: Database | None = None,
) -> Iterator[LocalServer]:
    """An in-process server on base/data with this configuration and these (name, password) users, the `admins`
    among them admins, on a catalog of `database` (SQLite when None); stopped at the end."""
    url = database.new_url() if database is not None else None
    server = LocalServer(base / "data", upstream_url=upstream_url, config=config, database_url=url).start()
    try:
        for name, password in users:
            add_user(server, name, password, admin=name in admins)
        yield server
    finally:
        server.stop()
        if database is not None:
            database.release(url)


def token_key(token: str) -> str:
    """The public key part of `rnt_<key>_<secret>`, as `rennet token list` shows and `revoke` takes."""
    return token.split("_")[1]


_addresses = itertools.count(2)


def elsewhere() -> httpx.Client:
    """A client on a loopback address of its own (127.0.x.y): rennet limits failed logins per address, so
    tests that fail on purpose must not throttle each other."""
    number = next(_addresses)
    return httpx.Client(
        transport=httpx.HTTPTransport(local_address=f"127.0.{number // 250 % 250}.{number % 250 + 2}"), timeout=60
    )
