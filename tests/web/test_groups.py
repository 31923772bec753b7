"""Groups and dependency confusion: a private project never receives public files, unless a group opts in.

The attack: your private project `acme-secret` 1.0 lives in a hosted index; someone registers the same name on
PyPI with version 9.0. An installer that merges both (pip's --extra-index-url) picks 9.0. rennet's groups show
a project that exists in a hosted member from the hosted members only, whatever the member order. What pip and uv
install from such groups is in tests/e2e/test_groups_clients.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rennet.config import InvalidConfig, load_settings
from tests.support.dists import make_wheel
from tests.support.groups import CONFIG, GROUPS, PRIVATE, PUBLIC
from tests.support.hosting import ALICE, hosted_server
from tests.support.pages import JSON_V1
from tests.support.server import LocalServer
from tests.support.uploads import post_upload
from tests.support.upstream import FakeUpstream

JSON = {"accept": JSON_V1}

# Besides the public acme-secret: a name that becomes private later, and a public project.
server = hosted_server(
    CONFIG, upstream=(PUBLIC, make_wheel("late-name", "5.0"), make_wheel("publicdep", "2.0")), uploads=(PRIVATE,)
)


def listed(server: LocalServer, group: str, project: str) -> tuple[list[str], list[str]]:
    response = server.get(f"/{group}/simple/{project}/", headers=JSON)
    assert response.status_code == 200, response.text
    body = response.json()
    return [f["filename"] for f in body["files"]], body["versions"]


def test_private_name_never_receives_public_files(server: LocalServer, module_upstream: FakeUpstream) -> None:
    for group in ("default", "proxyfirst", "outer"):
        assert listed(server, group, "acme-secret") == ([PRIVATE.filename], ["1.0"]), group
        html = server.get(f"/{group}/simple/acme-secret/").text
        assert PRIVATE.filename in html and PUBLIC.filename not in html
        for suffix in ("", ".metadata"):
            response = server.get(f"/{group}/files/acme-secret/{PUBLIC.filename}{suffix}")
            assert response.status_code == 404, (group, suffix)
    assert PUBLIC.filename not in server.get("/simple/acme-secret/").text  # the default group's own URL

    for group in GROUPS[:3]:  # the project's JSON API document too
        found = server.get(f"/{group}/pypi/acme-secret/json")
        assert found.status_code == 200, (group, found.text)
        assert list(found.json()["releases"]) == ["1.0"], group
        assert server.get(f"/{group}/pypi/acme-secret/9.0/json").status_code == 404, group

    # The public file was never even fetched, nor was PyPI asked about the private name through these groups.
    assert module_upstream.count(f"/files/{PUBLIC.filename}") == 0
    assert module_upstream.count("/simple/acme-secret/") == 0
    assert module_upstream.count("/pypi/acme-secret/") == 0
    # The mirror itself still mirrors: asked by its own name, it shows PyPI's project.
    assert listed(server, "pypi", "acme-secret")[0] == [PUBLIC.filename]


def test_allow_upstream_merges_both_on_purpose(server: LocalServer) -> None:
    files, versions = listed(server, "mixed", "acme-secret")
    assert sorted(files) == sorted([PRIVATE.filename, PUBLIC.filename])
    assert versions == ["1.0", "9.0"]
    public = server.get(f"/mixed/files/acme-secret/{PUBLIC.filename}")
    assert public.status_code == 200 and public.content == PUBLIC.data
    # allow_upstream is per group: the default group still hides it.
    assert listed(server, "default", "acme-secret")[0] == [PRIVATE.filename]


def test_uploading_a_private_name_hides_the_public_one_at_once(server: LocalServer) -> None:
    """A name first served from PyPI becomes private the moment a hosted member holds it: cached group pages
    must not keep offering the public files."""
    public = "late_name-5.0-py3-none-any.whl"
    for group in GROUPS:
        assert listed(server, group, "late-name")[0] == [public], group
        assert server.get(f"/{group}/files/late-name/{public}").status_code == 200
    private = make_wheel("late-name", "0.1")
    assert post_upload(server.url + "/local/", private, auth=ALICE).status_code == 200
    for group in ("default", "proxyfirst", "outer"):
        assert listed(server, group, "late-name") == ([private.filename], ["0.1"]), group
        assert server.get(f"/{group}/files/late-name/{public}").status_code == 404, group
    # mixed opts in only for acme-secret, not for late-name.
    assert listed(server, "mixed", "late-name")[0] == [private.filename]


def test_new_uploads_appear_in_every_group_at_once(server: LocalServer) -> None:
    for group in GROUPS:
        listed(server, group, "acme-secret")  # cached now
    newer = make_wheel("acme-secret", "1.1")
    assert post_upload(server.url + "/outer/", newer, auth=ALICE).status_code == 200  # lands in local
    for group in (*GROUPS, "local"):
        files, versions = listed(server, group, "acme-secret")
        assert newer.filename in files and "1.1" in versions, group
        metadata = server.get(f"/{group}/files/acme-secret/{newer.filename}.metadata")
        assert metadata.status_code == 200 and newer.metadata is not None
        assert hashlib.sha256(metadata.content).hexdigest() == hashlib.sha256(newer.metadata).hexdigest()


def test_public_projects_still_come_through(server: LocalServer) -> None:
    for group in GROUPS:
        assert listed(server, group, "publicdep")[0] == ["publicdep-2.0-py3-none-any.whl"], group


@pytest.mark.parametrize(
    ("tables", "problem"),
    [
        (
            '[index.local]\ntype = "hosted"\nprivate = true\n',  # the built-in default group stays public
            "group 'default' is public but its member 'local' is private",
        ),
        (
            '[index.secret]\ntype = "hosted"\nprivate = true\n'
            '[index.inner]\ntype = "group"\nmembers = ["secret"]\nprivate = true\n'
            '[index.outside]\ntype = "group"\nmembers = ["inner", "pypi"]\n',
            "group 'outside' is public but its member 'secret' is private",
        ),
    ],
)
def test_a_public_group_may_not_contain_a_private_index(tmp_path: Path, tables: str, problem: str) -> None:
    config = tmp_path / "rennet.toml"
    config.write_text(tables)
    with pytest.raises(InvalidConfig) as refused:
        load_settings(env={}, config_file=config)
    assert problem in str(refused.value)
