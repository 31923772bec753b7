"""PyPI's JSON API: hosted projects from their stored metadata, proxies passed through with rennet's file URLs,
groups by the group rule (a private name never shows public data), private indexes behind their login.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.accounts import serving
from tests.support.databases import Database
from tests.support.dists import make_sdist, make_wheel
from tests.support.hosting import ALICE, UPLOADS, upload
from tests.support.server import LocalServer
from tests.support.upstream import FakeUpstream

READER = ("reader", "reader-json-api-1")
STRANGER = ("stranger", "stranger-json-1")

RICH = (
    "Author: Ada Lovelace",
    "Author-email: ada@example.com",
    "Maintainer: Charles Babbage",
    "Maintainer-email: charles@example.com",
    "License: MIT",
    "Keywords: engines,analytical",
    "Classifier: Programming Language :: Python :: 3",
    "Classifier: Topic :: Software Development",
    "Platform: any",
    "Home-page: https://home.example.com/",
    "Download-URL: https://download.example.com/",
    "Project-URL: Source, https://source.example.com/",
    "Project-URL: Tracker, https://tracker.example.com/",
    "Provides-Extra: fast",
    "Description-Content-Type: text/markdown",
)
WHEEL_2 = make_wheel(
    "Json.Proj", "2.0", requires=("numpy>=1", "cython; extra == 'fast'"), requires_python=">=3.9",
    extra_metadata=RICH, description="# Json Proj\n\nThe long description.\n",
)  # fmt: skip
SDIST_2 = make_sdist("json.proj", "2.0", requires_python=">=3.9")
WHEEL_1 = make_wheel("json.proj", "1.0")
WHEEL_RC = make_wheel("json.proj", "3.0rc1")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_upstream: FakeUpstream, database: Database
) -> Iterator[LocalServer]:
    module_upstream.add(make_wheel("pubproj", "1.0"), make_wheel("pubproj", "2.0"), make_sdist("pubproj", "2.0"))
    module_upstream.add(make_wheel("shared-name", "9.0"))
    config = f"""{UPLOADS}
[index.secret]
type = "hosted"
private = true
read = ["reader"]
upload = ["alice"]

[index.mixed]
type = "group"
members = ["pypi", "local"]
allow_upstream = ["shared-name"]

[index.plain]
type = "proxy"
upstream = "http://127.0.0.1:{module_upstream.port}/other/"
"""
    users = (ALICE, READER, STRANGER)
    base = tmp_path_factory.mktemp("json")
    with serving(base, config, users, upstream_url=module_upstream.url, database=database) as rennet:
        upload(rennet, WHEEL_1, WHEEL_2, SDIST_2, WHEEL_RC, make_wheel("shared-name", "1.0"))
        yield rennet


def document(server: LocalServer, path: str, **kwargs: Any) -> dict[str, Any]:
    response = server.get(path, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    result: dict[str, Any] = response.json()
    return result


def test_hosted_project_document_has_pypi_shape(server: LocalServer) -> None:
    found = document(server, "/local/pypi/json-proj/json")
    assert set(found) == {"info", "last_serial", "releases", "urls", "vulnerabilities"}
    info = found["info"]
    # 3.0rc1 is newer, but a pre-release: info describes 2.0, from the wheel's METADATA.
    assert info["version"] == "2.0"
    expected = {
        "name": "Json.Proj",
        "summary": "Json.Proj for tests",
        "description": "# Json Proj\n\nThe long description.\n",
        "description_content_type": "text/markdown",
        "author": "Ada Lovelace",
        "author_email": "ada@example.com",
        "maintainer": "Charles Babbage",
        "maintainer_email": "charles@example.com",
        "license": "MIT",
        "keywords": "engines,analytical",
        "classifiers": ["Programming Language :: Python :: 3", "Topic :: Software Development"],
        "platform": "any",
        "home_page": "https://home.example.com/",
        "download_url": "https://download.example.com/",
        "project_urls": {"Source": "https://source.example.com/", "Tracker": "https://tracker.example.com/"},
        "requires_dist": ["numpy>=1", "cython; extra == 'fast'"],
        "requires_python": ">=3.9",
        "provides_extra": ["fast"],
        "yanked": False,
        "yanked_reason": None,
        "package_url": f"{server.url}/local/simple/json-proj/",
        "project_url": f"{server.url}/local/simple/json-proj/",
        "release_url": f"{server.url}/local/pypi/json-proj/2.0/json",
    }
    assert {key: info[key] for key in expected} == expected
    assert list(found["releases"]) == ["1.0", "2.0", "3.0rc1"]
    assert found["vulnerabilities"] == []
    assert isinstance(found["last_serial"], int) and found["last_serial"] > 0

    urls = {entry["filename"]: entry for entry in found["urls"]}
    assert set(urls) == {WHEEL_2.filename, SDIST_2.filename}
    assert found["releases"]["2.0"] == found["urls"]
    for dist, packagetype, python_version in ((WHEEL_2, "bdist_wheel", "py3"), (SDIST_2, "sdist", "source")):
        entry = urls[dist.filename]
        assert entry["packagetype"] == packagetype and entry["python_version"] == python_version
        assert entry["digests"] == {
            "md5": hashlib.md5(dist.data).hexdigest(),
            "sha256": dist.sha256,
            "blake2b_256": hashlib.blake2b(dist.data, digest_size=32).hexdigest(),
        }
        assert entry["md5_digest"] == entry["digests"]["md5"]
        assert entry["size"] == len(dist.data)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", entry["upload_time"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", entry["upload_time_iso_8601"])
        assert entry["upload_time_iso_8601"].startswith(entry["upload_time"])
        assert entry["requires_python"] == ">=3.9"
        assert entry["yanked"] is False and entry["yanked_reason"] is None
        assert entry["has_sig"] is False and entry["comment_text"] == ""
        assert entry["url"] == f"{server.url}/local/files/json-proj/{dist.filename}"
        assert httpx.get(entry["url"]).content == dist.data


def test_release_endpoint(server: LocalServer) -> None:
    found = document(server, "/local/pypi/json-proj/1.0/json")
    assert "releases" not in found
    assert found["info"]["version"] == "1.0"
    assert found["info"]["summary"] == "json.proj for tests" and found["info"]["author"] is None
    assert [entry["filename"] for entry in found["urls"]] == [WHEEL_1.filename]
    # Versions compare normalized, as PyPI's do.
    assert document(server, "/local/pypi/json-proj/1.0.0/json")["urls"] == found["urls"]
    assert document(server, "/local/pypi/json-proj/3.0rc1/json")["info"]["version"] == "3.0rc1"


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/local/pypi/json-proj/9.9/json", 404, "json-proj has no version '9.9' in local"),
        ("/local/pypi/no-such-thing/json", 404, "no project named 'no-such-thing' in local"),
        ("/local/pypi/no-such-thing/1.0/json", 404, "no version '1.0' of project named 'no-such-thing'"),
        ("/nope/pypi/json-proj/json", 404, "there is no index named 'nope'"),
        ("/local/pypi/bad%20name!/json", 400, "not a valid project name"),
        ("/plain/pypi/pubproj/json", 404, "plain has no JSON API"),
    ],
)
def test_what_is_not_there_is_a_json_error(server: LocalServer, path: str, status: int, message: str) -> None:
    response = server.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["message"]


def test_names_are_normalized_with_a_redirect(server: LocalServer) -> None:
    for path, target in [
        ("/local/pypi/Json_Proj/json", "/local/pypi/json-proj/json"),
        ("/pypi/JSON.proj/2.0/json", "/pypi/json-proj/2.0/json"),
    ]:
        response = server.get(path)
        assert response.status_code == 301 and response.headers["location"] == target


def test_latest_release_skips_yanked_then_prereleases(server: LocalServer) -> None:
    for version in ("1.0", "2.0", "3.0rc1"):
        upload(server, make_wheel("choosy", version))

    def latest() -> dict[str, Any]:
        info: dict[str, Any] = document(server, "/local/pypi/choosy/json")["info"]
        return info

    assert latest()["version"] == "2.0"
    yank = {"reason": "bad"}
    assert httpx.post(f"{server.url}/api/local/choosy/yank", json={"version": "2.0"} | yank, auth=ALICE).is_success
    assert latest()["version"] == "1.0"
    assert httpx.post(f"{server.url}/api/local/choosy/yank", json={"version": "1.0"}, auth=ALICE).is_success
    assert latest()["version"] == "3.0rc1", "a pre-release that is not yanked comes before yanked releases"
    assert httpx.post(f"{server.url}/api/local/choosy/yank", json={"version": "3.0rc1"}, auth=ALICE).is_success
    info = latest()
    assert (info["version"], info["yanked"], info["yanked_reason"]) == ("2.0", True, "bad")
    release = document(server, "/local/pypi/choosy/2.0/json")
    assert release["urls"][0]["yanked"] is True and release["urls"][0]["yanked_reason"] == "bad"


def test_default_index_and_groups_serve_hosted_projects_with_their_own_urls(server: LocalServer) -> None:
    for path in ("/pypi/json-proj/json", "/default/pypi/json-proj/json"):
        found = document(server, path)
        assert found["info"]["version"] == "2.0"
        for entry in found["urls"]:
            assert entry["url"] == f"{server.url}/default/files/json-proj/{entry['filename']}"
            assert httpx.get(entry["url"]).status_code == 200
    assert document(server, "/pypi/json-proj/1.0/json")["info"]["release_url"].endswith(
        "/default/pypi/json-proj/1.0/json"
    )


def test_proxy_passes_the_upstream_document_through_rennet(
    server: LocalServer, module_upstream: FakeUpstream
) -> None:
    for index in ("pypi", "default"):
        found = document(server, f"/{index}/pypi/pubproj/json")
        assert found["info"]["version"] == "2.0" and found["info"]["summary"] == "pubproj for tests"
        assert set(found["releases"]) == {"1.0", "2.0"}
        assert found["last_serial"] == 7
        entries = found["urls"] + [entry for files in found["releases"].values() for entry in files]
        for entry in entries:
            assert entry["url"] == f"{server.url}/{index}/files/pubproj/{entry['filename']}"
        for entry in found["urls"]:
            dist = module_upstream.find(entry["filename"])
            assert dist is not None and httpx.get(entry["url"]).content == dist.data
    release = document(server, "/pypi/pypi/pubproj/1.0/json")
    assert release["info"]["version"] == "1.0" and "releases" not in release
    assert release["urls"][0]["url"] == f"{server.url}/pypi/files/pubproj/pubproj-1.0-py3-none-any.whl"


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [
        ("500", 502, "the upstream answered 500"),
        ("garbage", 502, "JSON API sent an unreadable answer"),
        ("404", 404, "no project named 'failing-404' in pypi"),
    ],
)
def test_upstream_failures(
    server: LocalServer, module_upstream: FakeUpstream, fault: str, status: int, message: str
) -> None:
    """A document never fetched before: with nothing held, the failure is the answer (a held one would be
    served instead, see test_json_api_cache.py)."""
    project = f"failing-{fault}"
    module_upstream.add(make_wheel(project, "1.0"))
    module_upstream.fault(f"/pypi/{project}/", fault)
    try:
        response = server.get(f"/pypi/pypi/{project}/json")
    finally:
        module_upstream.fault(f"/pypi/{project}/", None)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["message"]


def test_a_hosted_name_never_shows_public_data(server: LocalServer, module_upstream: FakeUpstream) -> None:
    before = module_upstream.count("/pypi/shared-name/")
    for path in ("/pypi/shared-name/json", "/default/pypi/shared-name/json"):
        found = document(server, path)
        assert found["info"]["version"] == "1.0"
        assert list(found["releases"]) == ["1.0"]
        assert [e["filename"] for e in found["urls"]] == ["shared_name-1.0-py3-none-any.whl"]
    assert server.get("/pypi/shared-name/9.0/json").status_code == 404
    assert module_upstream.count("/pypi/shared-name/") == before, "the upstream is not even asked"
    # A group that allows the upstream for this name, with the mirror first, answers from the mirror.
    mixed = document(server, "/mixed/pypi/shared-name/json")
    assert mixed["info"]["version"] == "9.0"
    assert mixed["urls"][0]["url"] == f"{server.url}/mixed/files/shared-name/shared_name-9.0-py3-none-any.whl"


def test_private_index_needs_read_permission(server: LocalServer) -> None:
    upload(server, make_wheel("hush", "1.0"), index="secret")
    anonymous = server.get("/secret/pypi/hush/json")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert anonymous.headers["content-type"] == "application/json"
    assert server.get("/secret/pypi/hush/json", auth=STRANGER).status_code == 403
    for user in (READER, ALICE):
        found = document(server, "/secret/pypi/hush/json", auth=user)
        assert found["info"]["version"] == "1.0"
    response = server.get("/secret/pypi/hush/json", auth=READER)
    assert response.headers["cache-control"].startswith("private")


def test_routes_do_not_clash_with_the_pypi_index(server: LocalServer) -> None:
    assert "pubproj" in server.get("/pypi/simple/").text
    assert server.get("/pypi/simple/pubproj/").status_code == 200
    assert server.get("/pypi/simple").status_code == 301
    # /pypi/simple/json is the JSON API of a project named "simple" (the pypi index's pages end in a slash).
    simple = server.get("/pypi/simple/json")
    assert simple.status_code == 404 and "no project named 'simple'" in simple.json()["message"]
    # /pypi/pypi/<name>/json is <name> in the index "pypi".
    assert document(server, "/pypi/pypi/pubproj/json")["info"]["name"] == "pubproj"


def test_conditional_requests_and_serial(server: LocalServer) -> None:
    first = server.get("/local/pypi/json-proj/json")
    assert first.headers["x-pypi-last-serial"] == str(first.json()["last_serial"])
    assert first.headers["cache-control"] == "public, max-age=0, must-revalidate"
    again = server.get("/local/pypi/json-proj/json", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = server.head("/local/pypi/json-proj/json")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(first.content))
    upload(server, make_wheel("json.proj", "2.0", tag="py311-none-any"))
    changed = server.get("/local/pypi/json-proj/json", headers={"if-none-match": first.headers["etag"]})
    assert changed.status_code == 200
    assert int(changed.headers["x-pypi-last-serial"]) > int(first.headers["x-pypi-last-serial"])
    assert "py311" in {entry["python_version"] for entry in changed.json()["urls"]}
