"""Changes sent by a browser on behalf of a page of another origin are refused, whatever Sec-Fetch-Site claims."""

from __future__ import annotations

import httpx
import pytest

from tests.support.dists import make_wheel
from tests.support.hosting import ALICE, hosted_server
from tests.support.server import LocalServer
from tests.support.uploads import post_upload

# A server of its own for each test: they use the same project names.
server = hosted_server(upstream=None, scope="function")


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "https://127.0.0.1.evil.example", "null", "http://127.0.0.2"]
)
def test_an_upload_from_another_origin_is_refused(server: LocalServer, origin: str) -> None:
    headers = {"Origin": origin, "Sec-Fetch-Site": "same-site"}
    response = post_upload(server.url + "/local/", make_wheel("lured", "1.0"), auth=ALICE, extra_headers=headers)
    assert response.status_code == 403, response.text
    assert "are refused" in response.text
    assert server.get("/local/simple/lured/").status_code == 404


def test_the_servers_own_origin_may_upload(server: LocalServer) -> None:
    headers = {"Origin": server.url.upper().replace("HTTP://", "http://"), "Sec-Fetch-Site": "same-origin"}
    response = post_upload(server.url + "/local/", make_wheel("own", "1.0"), auth=ALICE, extra_headers=headers)
    assert response.status_code == 200, response.text


def test_the_management_api_checks_the_origin_too(server: LocalServer) -> None:
    assert post_upload(server.url + "/local/", make_wheel("kept", "1.0"), auth=ALICE).status_code == 200
    response = httpx.post(
        f"{server.url}/api/local/kept/delete",
        json={"all": True},
        auth=ALICE,
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "same-site"},
    )
    assert response.status_code == 403, response.text
    assert server.get("/local/simple/kept/").status_code == 200
