"""Paths nothing serves answer 404 with a sentence, not 405 because they look like an upload URL."""

from __future__ import annotations

import pytest

from tests.support.server import LocalServer


@pytest.mark.parametrize("path", ["/favicon.ico", "/robots.txt", "/search/", "/nothing/here/"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_nothing_here(rennet: LocalServer, path: str, method: str) -> None:
    response = rennet.raw(method, path)
    assert response.status == 404, response.body
    if method == "GET":
        assert b"nothing here" in response.body


def test_a_real_upload_url_still_refuses_other_methods(rennet: LocalServer) -> None:
    assert rennet.raw("GET", "/local/").status == 405
    assert rennet.raw("GET", "/legacy/").status == 405
    assert rennet.raw("DELETE", "/favicon.ico").status == 405
