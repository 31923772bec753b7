"""Upstream requests honour the proxy environment (read once), and NO_PROXY."""

from __future__ import annotations

import pytest

from rennet.upstream.client import SessionHolder


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> SessionHolder:
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.invalid:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy.example.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example.invalid,127.0.0.1")
    return SessionHolder()


def test_each_scheme_gets_its_proxy(proxied: SessionHolder) -> None:
    assert proxied.proxy_for("http://index.example.invalid/simple/") == "http://proxy.example.invalid:3128"
    assert proxied.proxy_for("https://index.example.invalid/simple/") == "http://secure-proxy.example.invalid:3128"


def test_no_proxy_hosts_go_direct(proxied: SessionHolder) -> None:
    assert proxied.proxy_for("https://internal.example.invalid/simple/x/") is None
    assert proxied.proxy_for("http://user:secret@127.0.0.1:8080/simple/") is None


def test_without_proxy_variables_everything_goes_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert SessionHolder().proxy_for("https://index.example.invalid/simple/") is None
