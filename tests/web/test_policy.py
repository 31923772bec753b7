"""Supply-chain policy over HTTP: what pip and uv see of `min_age` and `deny` (pages without the held-back
files, a 403 with the rule's sentence for the files and for a denied upload), and the decisions in /metrics."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tests.support.dists import make_wheel
from tests.support.hosting import ALICE, hosted_server
from tests.support.metrics import sample, wait_for_samples
from tests.support.pages import json_files
from tests.support.server import LocalServer
from tests.support.uploads import post_upload

FRESH = replace(
    make_wheel("policed-fresh", "2.0"),
    upload_time=(datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
)
SEASONED = make_wheel("policed-fresh", "1.0")  # uploaded in 2024
DENIED = make_wheel("policed-denied", "1.0")

CONFIG = """
[index.local]
upload = ["alice"]
deny = ["policed-leak"]

[index.pypi]
min_age = "7d"
deny = ["policed-denied"]
"""

server = hosted_server(CONFIG, upstream=(FRESH, SEASONED, DENIED))


def test_pages_leave_held_back_files_out_and_files_answer_403_naming_the_rule(server: LocalServer) -> None:
    for path in ("/simple/policed-fresh/", "/pypi/simple/policed-fresh/"):
        assert set(json_files(server, path)) == {SEASONED.filename}, path
        html = server.get(path, headers={"accept": "text/html"}).text
        assert SEASONED.filename in html and FRESH.filename not in html
    assert json_files(server, "/simple/policed-denied/") == {}

    for index in ("pypi", "default"):
        held = server.get(f"/{index}/files/policed-fresh/{FRESH.filename}")
        assert held.status_code == 403
        assert held.text.startswith(f"{FRESH.filename} is held back by index 'pypi''s min_age of 7 days: it was")
        denied = server.get(f"/{index}/files/policed-denied/{DENIED.filename}.metadata")
        assert denied.status_code == 403
        assert denied.text.strip() == f"{DENIED.filename} is denied by index 'pypi''s deny rule 'policed-denied'"
    assert server.get(f"/pypi/files/policed-fresh/{SEASONED.filename}").status_code == 200

    wait_for_samples(
        server,
        {
            sample("rennet_policy_decisions_total", index="pypi", rule="min_age", action="refused"): 2,
            sample("rennet_policy_decisions_total", index="pypi", rule="deny", action="refused"): 2,
        },
    )


def test_a_denied_upload_is_refused_with_403_naming_the_rule(server: LocalServer) -> None:
    leak = make_wheel("policed-leak", "1.0")
    response = post_upload(server.url + "/local/", leak, auth=ALICE)
    assert response.status_code == 403
    assert response.text.strip() == f"{leak.filename} is denied by index 'local''s deny rule 'policed-leak'"
    assert server.get("/local/simple/policed-leak/").status_code == 404
    wait_for_samples(
        server, {sample("rennet_policy_decisions_total", index="local", rule="deny", action="refused"): 1}
    )
