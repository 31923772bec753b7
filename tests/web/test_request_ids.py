"""Request ids: the caller's X-Request-ID when reasonable, else a new one; returned in the response, written in the
access line and on the log lines of the request, and named in every server error's body. And the access log as
JSON objects."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from rennet.web.requestids import MAX_LENGTH
from tests.support.server import LocalServer
from tests.support.upstream import FakeUpstream

GENERATED = r"[0-9a-f]{12}-[0-9a-f]+"


def test_every_response_has_an_id_of_its_own(rennet: LocalServer) -> None:
    ids = [rennet.get(path).headers["x-request-id"] for path in ("/health", "/health", "/simple/", "/nothing")]
    assert len(set(ids)) == len(ids)
    for request_id in ids:
        assert re.fullmatch(GENERATED, request_id), request_id
    line = rennet.wait_for_access("/nothing")
    assert line.request_id == ids[-1]


@pytest.mark.parametrize(
    "given",
    ["abc-123", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "Root=1-67891233-abcdef012345678912345678", "x" * MAX_LENGTH],
)
def test_a_reasonable_id_of_the_caller_is_kept(rennet: LocalServer, given: str) -> None:
    response = rennet.get("/simple/", headers={"x-request-id": given})
    assert response.headers["x-request-id"] == given
    assert rennet.wait_for_access("/simple/").request_id == given


@pytest.mark.parametrize("given", ["", "two words", 'quo"te', "x" * (MAX_LENGTH + 1), "tab\there", "back\\slash"])
def test_an_unreasonable_id_is_replaced(rennet: LocalServer, given: str) -> None:
    response = rennet.raw("GET", "/simple/", {"x-request-id": given})
    assert response.status == 200
    kept = response.headers["x-request-id"]
    assert kept != given and re.fullmatch(GENERATED, kept)


def test_log_lines_and_the_error_body_of_a_request_name_its_id(upstream: FakeUpstream, rennet: LocalServer) -> None:
    upstream.fault("/simple/failing/", "500")
    text = rennet.get("/simple/failing/", headers={"x-request-id": "trace-me-1"})
    assert text.status_code == 502
    assert text.headers["x-request-id"] == "trace-me-1"
    assert text.text.rstrip().endswith("(request id trace-me-1)")
    as_json = rennet.get(
        "/pypi/simple/failing/", headers={"x-request-id": "trace-me-2", "accept": "application/json"}
    )
    assert as_json.status_code == 502
    assert as_json.json()["request_id"] == "trace-me-2"
    log = rennet.wait_for_log("leaving out pypi for failing")
    warning = next(line for line in log.splitlines() if "leaving out pypi for failing" in line)
    assert warning.endswith(" request=trace-me-1")


def test_a_client_error_body_names_no_id(rennet: LocalServer) -> None:
    response = rennet.get("/simple/-bad-/", headers={"x-request-id": "not-in-4xx"})
    assert response.status_code == 400
    assert "not-in-4xx" not in response.text


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a bug")


@pytest.mark.parametrize(("path", "method"), [("/simple/anything/", "project_page"), ("/simple/", "listing")])
def test_an_unhandled_error_answers_500_naming_the_id_and_logs_it(
    rennet: LocalServer, monkeypatch: pytest.MonkeyPatch, path: str, method: str
) -> None:
    """The page goes through the hot paths, the project list through Starlette's router: both name the id."""
    monkeypatch.setattr(rennet.registry.indexes["default"], method, _boom)
    response = rennet.get(path, headers={"x-request-id": f"bug-{method}"})
    assert response.status_code == 500
    assert f"(request id bug-{method})" in response.text
    assert "a bug" not in response.text, "the details are for the log"
    log = rennet.wait_for_log("RuntimeError: a bug")
    assert f"unhandled error for GET {path} request=bug-{method}" in log


def test_access_lines_as_json(rennet_factory: Callable[..., LocalServer]) -> None:
    rennet = rennet_factory(env={"RENNET_LOG_FORMAT": "json"})
    path = '/simple/we"ird\\name/'
    rennet.raw("GET", path, {"x-request-id": "json-1"})
    rennet.wait_for_log("json-1")
    entries = [json.loads(line) for line in rennet.log().splitlines() if line.startswith("{")]
    entry = next(entry for entry in entries if entry.get("request_id") == "json-1")
    assert entry["logger"] == "rennet.access" and entry["level"] == "INFO"
    assert entry["path"] == path and entry["method"] == "GET" and entry["client"] == "127.0.0.1"
    assert entry["status"] == 400 and entry["bytes"] > 0 and entry["ms"] >= 0 and entry["cache"] == "-"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert path in entry["message"]
