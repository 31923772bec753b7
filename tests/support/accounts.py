"""Users and tokens made with the real `rennet user` and `rennet token` commands, against a server's data."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import httpx

from tests.support.server import RennetServer


def rennet_cli(server: RennetServer, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `rennet <args>` on the server's data directory and configuration (while it runs, or not)."""
    command = [sys.executable, "-m", "rennet", *args, "--data-dir", str(server.data_dir)]
    if server.config_path is not None:
        if not server.config_path.exists():
            assert server.config is not None
            server.config_path.write_text(server.config)
        command += ["--config", str(server.config_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENNET_")}
    return subprocess.run(command, input=stdin or "", capture_output=True, text=True, env=env, timeout=60)


def add_user(server: RennetServer, name: str, password: str, admin: bool = False) -> None:
    result = rennet_cli(
        server, "user", "add", name, *(["--admin"] if admin else []), "--password-stdin", stdin=password + "\n"
    )
    assert result.returncode == 0, result.stderr


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
