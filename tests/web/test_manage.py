"""Yank, unyank, delete and project status of hosted projects: the `rennet` commands run against a live server's
data directory, and the HTTP API, with every refusal.

One server per module (per catalog): every test uses its own project names. What installers and twine make of
yanked, quarantined and archived projects is in tests/e2e/test_manage_clients.py.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.accounts import create_token, rennet_cli, token_key
from tests.support.dists import make_sdist, make_wheel
from tests.support.hosting import ALICE, UPLOADS, hosted_server, upload
from tests.support.pages import JSON_V1
from tests.support.pages import json_files as files
from tests.support.server import LocalServer
from tests.support.uploads import hosted_file_row, post_upload, stored

BOB = ("bob", "bob-manages-22")
ROOT = ("root", "root-manages-333")
JSON = {"accept": JSON_V1}

CONFIG = f"""{UPLOADS}
[index.team]
type = "hosted"
upload = ["bob"]
"""

server = hosted_server(CONFIG, [ALICE, BOB, ROOT], admins={"root"})


@pytest.fixture(scope="module")
def tokens(server: LocalServer) -> dict[str, str]:
    made = {
        "read-only": create_token(server, "alice", scope="read"),
        "another index": create_token(server, "alice", index="team"),
        "revoked": create_token(server, "alice", index="local"),
        "upload": create_token(server, "alice", index="local"),
    }
    assert rennet_cli(server, "token", "revoke", token_key(made["revoked"])).returncode == 0
    return made


def api(
    server: LocalServer, path: str, body: object, auth: object = ALICE, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"} | (headers or {})
    return httpx.post(
        f"{server.url}/api/{path}",
        content=content,
        auth=auth,  # type: ignore[arg-type]
        headers=headers,
        timeout=30,
    )


def test_yank_from_the_command_line_reaches_the_running_server_at_once(server: LocalServer) -> None:
    old, new, new_sdist = make_wheel("yanky", "1.0"), make_wheel("yanky", "2.0"), make_sdist("yanky", "2.0")
    upload(server, old, new, new_sdist)
    # Read every page first: a page the workers keep in memory must not survive the change.
    for path in ("/local/simple/yanky/", "/simple/yanky/"):
        assert "data-yanked" not in server.get(path).text

    done = rennet_cli(server, "yank", "local", "yanky", "2.0", "--reason", "broken <build>")
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == {"yanked", new.filename, new_sdist.filename}

    for path in ("/local/simple/yanky/", "/simple/yanky/"):
        html = server.get(path).text
        assert html.count('data-yanked="broken &lt;build&gt;"') == 2, html
        assert html.count("data-yanked") == 2
        entries = files(server, path)
        assert entries[new.filename]["yanked"] == entries[new_sdist.filename]["yanked"] == "broken <build>"
        assert entries[old.filename]["yanked"] is False
    document = server.get("/local/pypi/yanky/json").json()
    assert document["info"]["version"] == "1.0", "the latest release that is not yanked"
    assert [f["yanked_reason"] for f in document["releases"]["2.0"]] == ["broken <build>"] * 2

    undone = rennet_cli(server, "unyank", "local", "yanky", new.filename)
    assert undone.returncode == 0, undone.stderr
    assert undone.stdout.split() == ["unyanked", new.filename]
    entries = files(server, "/simple/yanky/")
    assert entries[new.filename]["yanked"] is False and entries[new_sdist.filename]["yanked"] == "broken <build>"
    again = rennet_cli(server, "unyank", "local", "yanky", new.filename)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    document = server.get("/local/pypi/yanky/json").json()
    assert document["info"]["version"] == "2.0", "2.0 has a file that is not yanked"


def test_yank_all_needs_to_be_asked_for(server: LocalServer) -> None:
    upload(server, make_wheel("allyank", "1.0"), make_wheel("allyank", "1.1"))
    nothing = rennet_cli(server, "yank", "local", "allyank")
    assert nothing.returncode == 1
    assert "--all" in nothing.stderr
    assert not any(e["yanked"] for e in files(server, "/local/simple/allyank/").values())

    both = rennet_cli(server, "yank", "local", "allyank", "1.0", "--all")
    assert both.returncode == 1
    assert "not both" in both.stderr
    assert not any(e["yanked"] for e in files(server, "/local/simple/allyank/").values())

    everything = rennet_cli(server, "yank", "local", "AllYank", "--all")
    assert everything.returncode == 0, everything.stderr
    assert len(everything.stdout.splitlines()) == 2
    assert all(e["yanked"] is True for e in files(server, "/local/simple/allyank/").values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("yank", "nope", "proj", "1.0"), "there is no index named 'nope'"),
        (("yank", "pypi", "proj", "1.0"), "pypi is a proxy index, not a hosted one"),
        (
            ("unyank", "default", "proj", "1.0"),
            "default is a group index, not a hosted one: its own projects live in local",
        ),
        (("delete", "local", "ghost", "1.0"), "there is no project 'ghost' in local"),
        (("yank", "local", "refusals", "9.9"), "has no version '9.9'"),
        (("delete", "local", "refusals", "refusals-9.9-py3-none-any.whl"), "has no file"),
        (("status", "local", "ghost", "archived"), "there is no project 'ghost' in local"),
        (("status", "local", "no such name!", "archived"), "not a valid project name"),
        (("yank", "local", "refusals", "1.0", "--reason", "x" * 1001), "longer than 1000 characters"),
    ],
)
def test_commands_explain_what_they_cannot_do(server: LocalServer, args: tuple[str, ...], message: str) -> None:
    upload(server, make_wheel("refusals", "1.0"))
    before = stored(server)
    page = server.get("/local/simple/refusals/").text
    refused = rennet_cli(server, *args)
    assert refused.returncode == 1, refused
    assert message in refused.stderr
    assert stored(server) == before
    assert server.get("/local/simple/refusals/").text == page


def test_status_takes_only_known_values(server: LocalServer) -> None:
    refused = rennet_cli(server, "status", "local", "refusals", "retired")
    assert refused.returncode == 2
    assert "invalid choice: 'retired'" in refused.stderr


def test_delete_files_releases_and_whole_projects(server: LocalServer) -> None:
    first, second, second_sdist = make_wheel("delly", "1.0"), make_wheel("delly", "1.1"), make_sdist("delly", "1.1")
    upload(server, first, second, second_sdist)
    assert set(files(server, "/simple/delly/")) == {first.filename, second.filename, second_sdist.filename}

    done = rennet_cli(server, "delete", "local", "delly", first.filename)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"deleted {first.filename}"
    for path in ("/local/simple/delly/", "/simple/delly/"):
        assert set(files(server, path)) == {second.filename, second_sdist.filename}
    assert server.get(f"/local/files/delly/{first.filename}").status_code == 404
    assert server.get(f"/local/files/delly/{first.filename}.metadata").status_code == 404
    assert hosted_file_row(server, "local", first.filename) is None
    # The bytes stay for a later garbage collection, as the help says.
    assert (server.data_dir / "blobs" / first.sha256[:2] / first.sha256[2:4] / first.sha256).is_file()
    assert "rennet gc" in rennet_cli(server, "delete", "--help").stdout.replace("\n", " ")

    release = rennet_cli(server, "delete", "local", "delly", "1.1")
    assert release.returncode == 0, release.stderr
    assert sorted(release.stdout.split()) == sorted(["deleted", second.filename, "deleted", second_sdist.filename])
    assert files(server, "/local/simple/delly/") == {}
    missing = server.get("/local/pypi/delly/json")
    assert missing.status_code == 404 and "no files" in missing.json()["message"]
    assert "delly" in server.get("/local/simple/").text, "an emptied project keeps its name, as on PyPI"

    # --all removes the project itself: its name leaves the project lists, and may be taken again from scratch.
    upload(server, first)
    assert "delly" in server.get("/simple/").text
    project = rennet_cli(server, "delete", "local", "delly", "--all")
    assert project.returncode == 0, project.stderr
    assert project.stdout.splitlines() == [f"deleted {first.filename}", "deleted project delly from local"]
    for path in ("/local/simple/", "/simple/"):
        assert "delly" not in server.get(path).text
    assert server.get("/local/simple/delly/").status_code == 404
    upload(server, make_wheel("delly", "3.0"))
    assert set(files(server, "/local/simple/delly/")) == {"delly-3.0-py3-none-any.whl"}


def test_a_project_deleted_and_made_again_shows_only_its_new_files(server: LocalServer) -> None:
    """The new project's serial starts anew: the workers must not take their old page for the new one."""
    before, after = make_wheel("phoenix", "1.0"), make_wheel("phoenix", "2.0")
    upload(server, before)
    for path in ("/local/simple/phoenix/", "/simple/phoenix/"):
        assert set(files(server, path)) == {before.filename}
    assert rennet_cli(server, "delete", "local", "phoenix", "--all").returncode == 0
    upload(server, after)
    for path in ("/local/simple/phoenix/", "/simple/phoenix/"):
        assert set(files(server, path)) == {after.filename}, path


def test_quarantine_hides_every_file_and_refuses_uploads(server: LocalServer) -> None:
    wheel = make_wheel("quar", "1.0")
    upload(server, wheel)
    file_path = f"/local/files/quar/{wheel.filename}"
    assert server.get(file_path).status_code == 200
    assert server.get("/simple/quar/").status_code == 200

    done = rennet_cli(server, "status", "local", "quar", "quarantined", "--reason", "malware found")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "quar in local is now quarantined"
    for path in ("/local/simple/quar/", "/simple/quar/"):
        html = server.get(path).text
        assert '<meta name="pypi:project-status" content="quarantined">' in html
        assert '<meta name="pypi:project-status-reason" content="malware found">' in html
        assert "<a " not in html
        page = server.get(path, headers=JSON).json()
        assert page["files"] == [] and page["project-status"] == {"status": "quarantined", "reason": "malware found"}
    for path in (file_path, file_path + ".metadata", f"/default/files/quar/{wheel.filename}"):
        assert server.get(path).status_code == 404, path
    assert server.get("/local/pypi/quar/json").status_code == 404
    refused = post_upload(server.url + "/local/", make_wheel("quar", "1.1"), auth=ALICE)
    assert refused.status_code == 400 and "quarantined" in refused.text

    again = rennet_cli(server, "status", "local", "quar", "active")
    assert again.returncode == 0, again.stderr
    assert server.get(file_path).content == wheel.data
    assert set(files(server, "/simple/quar/")) == {wheel.filename}


def test_archived_projects_refuse_uploads_and_keep_their_files(server: LocalServer) -> None:
    wheel = make_wheel("archy", "1.0")
    upload(server, wheel)
    assert rennet_cli(server, "status", "local", "archy", "archived", "--reason", "done").returncode == 0
    assert server.get(f"/local/files/archy/{wheel.filename}").content == wheel.data
    assert '<meta name="pypi:project-status" content="archived">' in server.get("/simple/archy/").text

    newer = make_wheel("archy", "1.1")
    refused = post_upload(server.url + "/local/", newer, auth=ALICE, accept_json=True)
    assert refused.status_code == 400
    assert refused.json()["message"] == "Project archy is archived and takes no uploads"
    assert set(files(server, "/local/simple/archy/")) == {wheel.filename}

    # deprecated is active as far as uploads go (PEP 792).
    assert rennet_cli(server, "status", "local", "archy", "deprecated").returncode == 0
    upload(server, newer)
    assert set(files(server, "/local/simple/archy/")) == {wheel.filename, newer.filename}


def test_the_api_manages_releases(server: LocalServer) -> None:
    one, two = make_wheel("apiproj", "1.0"), make_wheel("apiproj", "2.0")
    upload(server, one, two)
    server.get("/simple/apiproj/")

    yanked = api(server, "local/ApiProj/yank", {"version": "1.0.0", "reason": "oops"})
    assert yanked.status_code == 200, yanked.text
    assert yanked.headers["content-type"] == "application/json"
    assert yanked.json() == {"changed": [one.filename]}
    assert 'data-yanked="oops"' in server.get("/simple/apiproj/").text
    assert api(server, "local/apiproj/yank", {"version": "1.0", "reason": "oops"}).json() == {"changed": []}

    unyanked = api(server, "local/apiproj/unyank", {"filename": one.filename})
    assert unyanked.json() == {"changed": [one.filename]}
    assert "data-yanked" not in server.get("/simple/apiproj/").text

    status = api(server, "local/apiproj/status", {"status": "deprecated", "reason": "use other"})
    assert status.json() == {"changed": ["apiproj"], "status": "deprecated", "reason": "use other"}
    page = server.get("/simple/apiproj/", headers=JSON).json()
    assert page["project-status"] == {"status": "deprecated", "reason": "use other"}
    assert len(page["files"]) == 2
    assert (
        api(server, "local/apiproj/status", {"status": "deprecated", "reason": "use other"}).json()["changed"] == []
    )

    deleted = api(server, "local/apiproj/delete", {"filename": two.filename})
    assert deleted.json() == {"changed": [two.filename]}
    assert set(files(server, "/simple/apiproj/")) == {one.filename}

    everything = api(server, "local/apiproj/delete", {"all": True})
    assert everything.json() == {"changed": [one.filename]}
    assert server.get("/simple/apiproj/").status_code == 404
    assert "apiproj" not in server.get("/local/simple/").text


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("nope/errproj/yank", {"version": "1.0"}, 404, "there is no index named 'nope'"),
        ("pypi/errproj/yank", {"version": "1.0"}, 400, "pypi is a proxy index"),
        ("default/errproj/status", {"status": "archived"}, 400, "its own projects live in local"),
        ("local/ghost/yank", {"version": "1.0"}, 404, "there is no project 'ghost' in local"),
        ("local/errproj/yank", {"version": "9.9"}, 404, "has no version '9.9'"),
        ("local/errproj/unyank", {"filename": "errproj-9.9.tar.gz"}, 404, "has no file"),
        ("local/errproj/yank", b"{not json", 400, "not valid JSON"),
        ("local/errproj/yank", ["1.0"], 400, "must be a JSON object"),
        ("local/errproj/yank", {}, 400, 'exactly one of "version", "filename" or "all"'),
        ("local/errproj/yank", {"version": "1.0", "filename": "x.whl"}, 400, "exactly one of"),
        ("local/errproj/delete", {"all": "yes"}, 400, '"all" must be true'),
        ("local/errproj/yank", {"versoin": "1.0"}, 400, "unknown field(s) 'versoin'"),
        ("local/errproj/yank", {"version": 1.0}, 400, '"version" must be a string'),
        ("local/errproj/yank", {"version": "1.0", "reason": 5}, 400, '"reason" must be a string'),
        ("local/errproj/yank", {"version": "1.0", "reason": "x" * 1001}, 400, "longer than 1000"),
        ("local/errproj/unyank", {"version": "1.0", "reason": "x"}, 400, "unknown field(s) 'reason'"),
        ("local/errproj/status", {"status": "retired"}, 400, '"status" must be one of active, archived'),
        ("local/errproj/rename", {"to": "x"}, 404, "unknown action"),
        ("local/bad name!/yank", {"version": "1.0"}, 400, "not a valid project name"),
        ("local/errproj/yank", b"[" * 100_000, 413, "larger than 65536 bytes"),
    ],
)
def test_api_errors_are_json_with_the_right_status(
    server: LocalServer, path: str, body: object, status: int, message: str
) -> None:
    upload(server, make_wheel("errproj", "1.0"))
    before = stored(server)
    response = api(server, path, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert message in error["message"]
    assert error["code"].startswith(str(status)) and error["title"]
    assert stored(server) == before
    assert "data-yanked" not in server.get("/local/simple/errproj/").text


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        # What a page of another site may send without asking first (no CORS preflight): refused.
        ({"content-type": "text/plain"}, 415, "Content-Type: application/json"),
        ({"content-type": "application/x-www-form-urlencoded"}, 415, "Content-Type: application/json"),
        ({"content-type": "multipart/form-data; boundary=x"}, 415, "Content-Type: application/json"),
        ({"content-type": ""}, 415, "Content-Type: application/json"),
        # A browser that says the request comes from another site's page: refused, whatever it sends.
        ({"sec-fetch-site": "cross-site"}, 403, "another site"),
    ],
)
def test_api_refuses_what_browsers_send_for_other_sites(
    server: LocalServer, headers: dict[str, str], status: int, message: str
) -> None:
    upload(server, make_wheel("forged", "1.0"))
    before = stored(server)
    response = api(server, "local/forged/yank", {"version": "1.0"}, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["message"]
    assert stored(server) == before
    assert "data-yanked" not in server.get("/local/simple/forged/").text
    with_charset = {"content-type": "application/json; charset=utf-8", "sec-fetch-site": "same-origin"}
    assert api(server, "local/forged/yank", {"version": "1.0"}, headers=with_charset).status_code == 200
    assert api(server, "local/forged/unyank", {"version": "1.0"}).status_code == 200


def test_api_takes_only_posts(server: LocalServer) -> None:
    assert httpx.get(f"{server.url}/api/local/errproj/yank").status_code == 405


@pytest.mark.parametrize("action", ["yank", "unyank", "delete", "status"])
def test_api_refuses_whoever_may_not_upload_there(server: LocalServer, tokens: dict[str, str], action: str) -> None:
    project = f"guarded-{action}"
    upload(server, make_wheel(project, "1.0"))
    if action == "unyank":
        assert api(server, f"local/{project}/yank", {"version": "1.0"}).status_code == 200
    body = {"status": "quarantined"} if action == "status" else {"version": "1.0"}
    before = stored(server)
    page = server.get(f"/local/simple/{project}/").text
    refusals = {
        "anonymous": (None, "anonymous user may not upload to local"),
        "wrong password": ((ALICE[0], "not-the-password"), "Invalid or non-existent authentication"),
        "uploader elsewhere": (BOB, "user 'bob' may not upload to local"),
        "read-only token": (("__token__", tokens["read-only"]), "user 'alice' may not upload to local"),
        "token for another index": (("__token__", tokens["another index"]), "user 'alice' may not upload to local"),
        "revoked token": (("__token__", tokens["revoked"]), "invalid, expired or revoked token"),
    }
    for who, (auth, message) in refusals.items():
        response = api(server, f"local/{project}/{action}", body, auth=auth)
        assert response.status_code == 403, (who, response.text)
        assert response.headers["content-type"] == "application/json", who
        assert message in response.json()["message"], who
    assert stored(server) == before
    assert server.get(f"/local/simple/{project}/").text == page

    # The same request passes with an upload token for this index, and for an admin.
    assert api(server, f"local/{project}/{action}", body, auth=("__token__", tokens["upload"])).status_code == 200
    assert server.get(f"/local/simple/{project}/").text != page
    if action != "delete":
        assert api(server, f"local/{project}/{action}", body, auth=ROOT).status_code == 200
