"""Users and tokens made with the real `rennet user` and `rennet token` commands, against a server's data."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server import RennetServer, without_rennet_variables


def rennet_cli(server: RennetServer, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `rennet <args>` on the server's data directory and configuration (while it runs, or not)."""
    command = server.cli_command(*args)
    env = without_rennet_variables()
    return subprocess.run(command, input=stdin or "", capture_output=True, text=True, env=env, timeout=60)


def add_user(server: RennetServer, name: str, password: str, admin: bool = False) -> None:
    result = rennet_cli(
        server, "user", "add", name, *(["--admin"] if admin else []), "--password-stdin", stdin=password + "\n"
    )
    assert result.returncode == 0, result.stderr


@contextmanager
def serving(
    base: Path,
    config: str,
    users: Iterable[tuple[str, str]] = (),
    admins: Collection[str] = (),
    upstream_url: str | None = None,
) -> Iterator[RennetServer]:
    """A server on base/data with this configuration and these (name, password) users, the `admins` among them
    admins; stopped at the end."""
    server = RennetServer(base / "data", upstream_url=upstream_url, config=config).start()
    try:
        for name, password in users:
            add_user(server, name, password, admin=name in admins)
        yield server
    finally:
        server.stop()


def create_token(
    server: RennetServer, user: str, index: str | None = None, scope: str = "upload", expires: str | None = None
) -> str:
    """A new token (the only line `rennet token create` prints on stdout)."""
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
