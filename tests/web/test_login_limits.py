"""Failed logins are limited per address and user name: nobody's failures lock out another user, tokens are never
refused for what someone else tried, a trusted reverse proxy's X-Forwarded-* say who the client is, and a
remembered credential lasts no longer than its token."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.accounts import add_user, create_token
from tests.support.hosting import ALICE
from tests.support.server import LocalServer

CONFIG = (
    '[index.local]\nprivate = true\nread = ["*"]\nupload = ["alice"]\n[index.default]\nprivate = true\nread = ["*"]\n'
)
PAGE = "/local/simple/"


@pytest.fixture
def server(rennet_factory: Callable[..., LocalServer]) -> Iterator[LocalServer]:
    server = rennet_factory(config=CONFIG)
    add_user(server, *ALICE)
    add_user(server, "mallory", "mallory-password")
    yield server


def _read(server: LocalServer, auth: tuple[str, str], headers: dict[str, str] | None = None) -> int:
    return server.get(PAGE, auth=auth, headers=headers or {}).status_code


def _fail_ten_times(server: LocalServer, user: str, headers: dict[str, str] | None = None) -> None:
    for n in range(10):
        assert _read(server, (user, f"wrong-{n}"), headers) == 401
    assert _read(server, (user, "wrong-again"), headers) == 429


def test_someone_elses_failures_lock_nobody_else_out(server: LocalServer) -> None:
    _fail_ten_times(server, "mallory")
    assert _read(server, ALICE) == 200  # the same address, another user
    token = create_token(server, "alice", scope="read")
    assert _read(server, ("__token__", token)) == 200


def test_a_token_is_never_refused_for_failed_passwords(server: LocalServer) -> None:
    _fail_ten_times(server, "alice")
    assert _read(server, ALICE) == 429  # password attempts for alice from here wait a minute...
    token = create_token(server, "alice", scope="read")
    assert _read(server, ("__token__", token)) == 200  # ...her CI's token does not
    for n in range(20):  # guessing tokens is hopeless (256-bit secrets): nothing to limit
        assert _read(server, ("__token__", f"rnt_{n:016x}_{'x' * 43}")) == 401
    assert _read(server, ("__token__", token)) == 200


def test_the_limit_lasts_a_minute(server: LocalServer) -> None:
    _fail_ten_times(server, "mallory")
    server.registry.shared.clock.advance(61)
    assert _read(server, ("mallory", "mallory-password")) == 200


def test_a_remembered_token_expires_with_the_token(server: LocalServer) -> None:
    token = create_token(server, "alice", scope="read", expires="30s")
    assert _read(server, ("__token__", token)) == 200
    server.registry.shared.clock.advance(31)
    assert _read(server, ("__token__", token)) == 401


def test_forwarded_for_is_believed_from_trusted_proxies_only(rennet_factory: Callable[..., LocalServer]) -> None:
    server = rennet_factory(config=CONFIG, env={"RENNET_FORWARDED_ALLOW_IPS": "127.0.0.1"})
    add_user(server, *ALICE)
    one, other = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.9"}
    _fail_ten_times(server, "alice", one)
    assert _read(server, ALICE, one) == 429
    assert _read(server, ALICE, other) == 200  # another client behind the same proxy
    server.wait_for_log('198.51.100.9 "GET /local/simple/" 200')  # the access log names the real client


def test_forwarded_headers_from_elsewhere_are_ignored(rennet_factory: Callable[..., LocalServer]) -> None:
    server = rennet_factory(config=CONFIG, env={"RENNET_FORWARDED_ALLOW_IPS": "10.0.0.0/8"})
    add_user(server, *ALICE)
    _fail_ten_times(server, "alice", {"X-Forwarded-For": "203.0.113.7"})
    assert _read(server, ALICE, {"X-Forwarded-For": "198.51.100.9"}) == 429  # we are 127.0.0.1: not trusted


def test_urls_say_https_behind_a_tls_proxy(rennet_factory: Callable[..., LocalServer]) -> None:
    server = rennet_factory(env={"RENNET_FORWARDED_ALLOW_IPS": "*"})
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "packages.example.com"}
    home = httpx.get(server.url + "/", headers=headers)
    assert "https://packages.example.com/simple/" in home.text
    assert "http://127.0.0.1" not in home.text
