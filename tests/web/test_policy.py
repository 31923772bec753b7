"""Supply-chain policy over HTTP: what pip and uv see of `min_age` and `deny` (pages without the held-back
files, a 403 with the rule's sentence for the files and for a denied upload), the decisions in /metrics, and
snapshots (/<index>/snapshot/<instant>/simple/...) whose file URLs stay below the snapshot."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.dists import make_wheel
from tests.support.hosting import ALICE, hosted_server
from tests.support.metrics import sample, wait_for_samples
from tests.support.pages import JSON_V1, absolute, json_files
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


def test_projects_denied_whole_are_left_out_of_project_lists(server: LocalServer) -> None:
    for path in ("/pypi/simple/", "/simple/", "/default/snapshot/2025-06-01/simple/"):
        listed = {entry["name"] for entry in server.get(path, headers={"accept": JSON_V1}).json()["projects"]}
        assert "policed-fresh" in listed, path
        assert "policed-denied" not in listed, path
        assert "policed-denied" not in server.get(path, headers={"accept": "text/html"}).text, path


def test_a_denied_upload_is_refused_with_403_naming_the_rule(server: LocalServer) -> None:
    leak = make_wheel("policed-leak", "1.0")
    response = post_upload(server.url + "/local/", leak, auth=ALICE)
    assert response.status_code == 403
    assert response.text.strip() == f"{leak.filename} is denied by index 'local''s deny rule 'policed-leak'"
    assert server.get("/local/simple/policed-leak/").status_code == 404
    wait_for_samples(
        server, {sample("rennet_policy_decisions_total", index="local", rule="deny", action="refused"): 1}
    )


SNAPSHOT = "/default/snapshot/2025-06-01/simple/"  # SEASONED (2024) is in it; FRESH (minutes ago) is not


def test_a_snapshot_lists_and_serves_what_was_uploaded_by_its_instant(server: LocalServer) -> None:
    files = json_files(server, SNAPSHOT + "policed-fresh/")
    assert set(files) == {SEASONED.filename}
    url = absolute(server.url + SNAPSHOT + "policed-fresh/", files[SEASONED.filename]["url"])
    assert url == f"{server.url}/default/snapshot/2025-06-01T00:00:00Z/files/policed-fresh/{SEASONED.filename}"
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == SEASONED.data
    html = server.get(SNAPSHOT + "policed-fresh/", headers={"accept": "text/html"}).text
    assert f"../../../../../default/snapshot/2025-06-01T00:00:00Z/files/policed-fresh/{SEASONED.filename}" in html

    private = make_wheel("policed-private", "1.0")
    assert post_upload(server.url + "/local/", private, auth=ALICE).status_code == 200
    assert json_files(server, SNAPSHOT + "policed-private/") == {}
    later = server.get(f"/default/snapshot/2025-06-01T00:00:00Z/files/policed-private/{private.filename}")
    assert later.status_code == 403
    assert later.text.startswith(
        f"{private.filename} is not in the snapshot of index 'default' at 2025-06-01T00:00:00Z: it was uploaded "
    )
    # The index's own rules hold in its snapshots too, each refusal naming its own.
    held = server.get(f"/default/snapshot/2025-06-01T00:00:00Z/files/policed-fresh/{FRESH.filename}")
    assert held.status_code == 403 and "index 'pypi''s min_age of 7 days" in held.text
    assert json_files(server, "/pypi/snapshot/2026-01-01T00:00:00+01:00/simple/policed-denied/") == {}
    assert "policed-fresh" in server.get(SNAPSHOT, headers={"accept": "text/html"}).text


def test_snapshot_urls_are_checked(server: LocalServer) -> None:
    bad = server.get("/default/snapshot/yesterday/simple/policed-fresh/")
    assert bad.status_code == 400
    assert bad.text.strip() == (
        "a snapshot's time: 'yesterday' is neither an RFC 3339 time with its offset (2026-12-01T10:00:00Z) nor a "
        "date (2026-12-01)"
    )
    future = server.get("/default/snapshot/2999-01-01/simple/policed-fresh/")
    assert future.status_code == 400
    assert future.text.strip() == "the snapshot's time 2999-01-01T00:00:00Z has not come yet"
    assert server.get("/nowhere/snapshot/2025-06-01/simple/policed-fresh/").status_code == 404
    moved = server.get(SNAPSHOT + "Policed_Fresh", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == SNAPSHOT + "policed-fresh/"
