"""Bad requests and hostile upstreams: clear 4xx answers, nothing read or written outside the data directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.pages import JSON_V1, parse_html
from tests.support.server import LocalServer
from tests.support.upstream import FakeUpstream

PLANTED = b"PLANTED-NEXT-TO-THE-DATA-DIR"
MAX_PAGE = 64 * 1024


class Fixture:
    def __init__(self, root: Path, database_url: str | None) -> None:
        self.root = root
        self.upstream = FakeUpstream().start()
        self.elsewhere = FakeUpstream().start()  # another host, linked from the upstream's pages
        self.upstream.add(make_wheel("alpha", "1.0"))
        (root / "planted.txt").write_bytes(PLANTED)
        (root / "planted.whl").write_bytes(PLANTED)
        url = self.upstream.url.replace("http://", "http://reader:s3cret-token@")
        config = f'max_page_bytes = "{MAX_PAGE}"\n[index.pypi]\nupstream = "{url}"\n'
        self.rennet = LocalServer(root / "data", config=config, database_url=database_url).start()
        self.before = self.outside()

    def outside(self) -> dict[str, bytes]:
        """Every file next to (not inside) the data directory, except the server's own log and config."""
        found = {}
        for path in self.root.rglob("*"):
            if path.is_file() and self.rennet.data_dir not in path.parents and not path.name.startswith("rennet-"):
                found[str(path.relative_to(self.root))] = path.read_bytes()
        return found

    def close(self) -> None:
        self.rennet.stop()
        self.upstream.stop()
        self.elsewhere.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, database: Database) -> Iterator[Fixture]:
    with database.server_catalog() as url:
        fixture = Fixture(tmp_path_factory.mktemp("badinput"), url)
        try:
            yield fixture
            assert fixture.outside() == fixture.before, "something was written outside the data directory"
            assert fixture.rennet.get("/health").status_code == 200
        finally:
            fixture.close()


@pytest.fixture(scope="module")
def rennet(env: Fixture) -> LocalServer:
    assert env.rennet.get("/simple/alpha/").status_code == 200  # something cached, so there is data to reach
    return env.rennet


def assert_clear_refusal(response_status: int, body: bytes, allowed: tuple[int, ...] = (400, 404)) -> None:
    assert response_status in allowed, (response_status, body[:200])
    text = body.decode()
    assert text.strip(), "a refusal says why"
    assert len(text) < 600
    assert PLANTED not in body
    assert b"SQLite format" not in body


# -- malformed requests --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["-alpha-", "alpha%00", "a" * 201, "al%20pha", "%C3%A4lpha", "alpha!", ".alpha", "alpha%0a", "alpha%3Cx%3E"],
)
@pytest.mark.parametrize("prefix", ["/simple/", "/pypi/simple/"])
def test_malformed_project_names(rennet: LocalServer, prefix: str, name: str) -> None:
    response = rennet.raw("GET", f"{prefix}{name}/")
    assert_clear_refusal(response.status, response.body, (400,))
    assert b"project name" in response.body


@pytest.mark.parametrize(
    "target",
    [
        "/pypi/files/alpha/../../../planted.txt",
        "/pypi/files/alpha/..%2f..%2f..%2fplanted.txt",
        "/pypi/files/alpha/..%2F..%2F..%2Fplanted.whl",
        "/pypi/files/alpha/%2e%2e%2f%2e%2e%2f%2e%2e%2fplanted.txt",
        "/pypi/files/alpha/%2e%2e/%2e%2e/%2e%2e/planted.txt",
        "/pypi/files/alpha/%2e%2e",
        "/pypi/files/alpha/..",
        "/pypi/files/alpha/..%5c..%5c..%5cplanted.txt",
        "/pypi/files/alpha/%252e%252e%252f%252e%252e%252fplanted.txt",
        "/pypi/files/alpha/%2Fetc%2Fpasswd",
        "/pypi/files/alpha//etc/passwd",
        "/pypi/files/alpha/planted.whl%00.whl",
        "/pypi/files/alpha/%00",
        "/pypi/files/%2e%2e/planted.whl",
        "/pypi/files/alpha/%2e%2e%2frennet.sqlite3",
        "/pypi/files/alpha/..%2frennet.sqlite3",
        "/%2e%2e/files/alpha/planted.whl",
        "/../../planted.txt",
        "/..%2f..%2fplanted.txt",
        "//etc/passwd",
        "/simple/..%2f..%2fplanted.txt/",
        "/simple/%2e%2e/",
        "/%2e%2e/simple/alpha/",
        "/pypi/simple/%2e%2e%2f%2e%2e%2f/",
        "/pypi/files/alpha/alpha-1.0-py3-none-any.whl%2f..%2f..%2f..%2fplanted.txt",
        "/pypi/files/alpha/%ef%bc%8e%ef%bc%8e%ef%bc%8fplanted.txt",
        "/pypi/files/alpha/.hidden.whl",
        "/pypi/files/alpha/..%2f..%2f..%2fplanted.txt.metadata",
    ],
)
def test_path_traversal_is_refused(rennet: LocalServer, target: str) -> None:
    for method in ("GET", "HEAD"):
        response = rennet.raw(method, target)
        if method == "GET":
            assert_clear_refusal(response.status, response.body)
        else:
            assert response.status in (400, 404)


def test_overlong_urls(rennet: LocalServer) -> None:
    for target in (
        "/simple/" + "a" * 5000 + "/",
        "/simple/alpha/?x=" + "b" * 5000,
        "/pypi/files/alpha/" + "c" * 9000,
    ):
        response = rennet.raw("GET", target)
        assert response.status == 414
        assert b"longer than" in response.body


def test_long_filename(rennet: LocalServer) -> None:
    response = rennet.raw("GET", "/pypi/files/alpha/" + "x" * 300 + ".whl")
    assert_clear_refusal(response.status, response.body, (400,))


def test_unknown_index_and_file(rennet: LocalServer) -> None:
    for target, words in [
        ("/nowhere/simple/alpha/", b"nowhere"),
        ("/nowhere/simple/", b"nowhere"),
        ("/nowhere/files/alpha/alpha-1.0-py3-none-any.whl", b"nowhere"),
        ("/pypi/files/alpha/alpha-7.0-py3-none-any.whl", b"alpha-7.0"),
        ("/pypi/files/alpha/alpha-7.0-py3-none-any.whl.metadata", b"alpha-7.0"),
        ("/no/route/here", b"nothing here"),
    ]:
        response = rennet.raw("GET", target)
        assert_clear_refusal(response.status, response.body, (404,))
        assert words in response.body


def test_write_methods_are_refused(rennet: LocalServer) -> None:
    for method in ("POST", "PUT", "DELETE"):
        response = httpx.request(method, rennet.url + "/simple/alpha/")
        assert response.status_code == 405
        assert response.text.strip()


def test_errors_as_json_for_json_clients(rennet: LocalServer) -> None:
    response = rennet.get("/pypi/files/alpha/alpha-7.0-py3-none-any.whl", headers={"accept": "application/json"})
    assert response.status_code == 404
    data = response.json()
    assert "alpha-7.0" in data["message"]
    assert data["code"].startswith("404")


# -- hostile upstream pages ----------------------------------------------------------------------------------------


def _entry(filename: str, url: str, sha256: str = "0" * 64) -> dict[str, object]:
    return {"filename": filename, "url": url, "hashes": {"sha256": sha256}}


def test_hostile_filenames_and_links_are_dropped(env: Fixture, rennet: LocalServer) -> None:
    good = make_wheel("hostile", "1.0")
    env.upstream.add(good)  # so that /files/<good> exists upstream
    real = env.upstream.file_url(good.filename)
    evil_names = [
        "../hostile-6.0-py3-none-any.whl",
        "../../../planted.whl",
        "/etc/passwd",
        "..\\hostile-6.0.whl",
        "hostile/../../x-1.0.whl",
        ".hostile-1.0.whl",
        "hostile-2.0\n.whl",
        "hostile-2.0\x00.whl",
        "x" * 300 + ".whl",
    ]
    files = [_entry(name, real, good.sha256) for name in evil_names]
    files += [
        _entry("hostile-4.0.tar.gz", "file:///etc/passwd"),
        _entry("hostile-4.1.tar.gz", "javascript:alert(1)"),
        _entry("hostile-4.2.tar.gz", "ftp://127.0.0.1/x"),
        {"filename": "hostile-4.3.tar.gz", "url": real, "hashes": {"sha256": "../../../../etc/passwd"}},
        _entry(good.filename, real, good.sha256),
    ]
    body = json.dumps({"meta": {"api-version": "1.1"}, "name": "hostile", "files": files}).encode()
    env.upstream.raw_pages["/simple/hostile/"] = (body, JSON_V1)

    response = rennet.get("/pypi/simple/hostile/", headers={"accept": JSON_V1})
    assert response.status_code == 200
    listed = {f["filename"]: f for f in json.loads(response.content)["files"]}
    assert good.filename in listed
    assert not any(name in listed for name in evil_names)
    assert not {"hostile-4.0.tar.gz", "hostile-4.1.tar.gz", "hostile-4.2.tar.gz"} & set(listed)
    # A hash that is not a hash is dropped, never used as a path.
    assert listed.get("hostile-4.3.tar.gz", {"hashes": {}})["hashes"] == {}
    for entry in listed.values():
        assert str(entry["url"]).startswith("../../../pypi/files/hostile/")
    assert rennet.get(f"/pypi/files/hostile/{good.filename}").content == good.data
    assert "ignoring upstream file" in rennet.log()


def test_links_to_other_hosts_are_served_through_rennet(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("offsite", "1.0")
    env.elsewhere.add(wheel)
    entry = _entry(wheel.filename, env.elsewhere.file_url(wheel.filename), wheel.sha256)
    body = json.dumps({"meta": {"api-version": "1.1"}, "name": "offsite", "files": [entry]}).encode()
    env.upstream.raw_pages["/simple/offsite/"] = (body, JSON_V1)
    page = rennet.get("/pypi/simple/offsite/", headers={"accept": "text/html"})
    href = parse_html(page.text).anchor(wheel.filename).href
    assert "127.0.0.1:" + str(env.elsewhere.port) not in href
    assert rennet.get(f"/pypi/files/offsite/{wheel.filename}").content == wheel.data
    seen = env.elsewhere.seen_headers(f"/files/{wheel.filename}")
    assert seen and "authorization" not in seen[0], "credentials go to the upstream's own origin only"
    assert env.upstream.seen_headers("/simple/offsite/")[0]["authorization"].startswith("Basic ")


def test_credentials_are_not_sent_across_a_redirect(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("moved", "1.0")
    env.elsewhere.add(wheel)
    env.upstream.redirects["/simple/moved/"] = env.elsewhere.url + "moved/"
    response = rennet.get("/pypi/simple/moved/", headers={"accept": JSON_V1})
    assert response.status_code == 200
    assert [f["filename"] for f in json.loads(response.content)["files"]] == [wheel.filename]
    assert env.upstream.seen_headers("/simple/moved/")[0]["authorization"].startswith("Basic ")
    assert "authorization" not in env.elsewhere.seen_headers("/simple/moved/")[0]
    assert rennet.get(f"/pypi/files/moved/{wheel.filename}").content == wheel.data


def test_oversized_page(env: Fixture, rennet: LocalServer) -> None:
    files = [_entry(f"big-{i}.0.tar.gz", env.upstream.file_url(f"big-{i}.0.tar.gz")) for i in range(2000)]
    body = json.dumps({"meta": {"api-version": "1.1"}, "name": "big", "files": files}).encode()
    assert len(body) > MAX_PAGE
    env.upstream.raw_pages["/simple/big/"] = (body, JSON_V1)
    response = rennet.get("/pypi/simple/big/")
    assert response.status_code == 502
    assert "larger than" in response.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body><a href='x-1.0.tar.gz'>x-1.0.tar.gz" + b"<div>" * 20000, "text/html"),
        (b"<a href=" * 5000, "text/html"),
        (b"\xff\xfe\x00garbage\x00" * 100, "text/html; charset=utf-8"),
        (b'{"files": "not a list"}', JSON_V1),
        (b'{"files": [{"filename": 5, "url": [], "hashes": "x", "size": -5}]}', JSON_V1),
        (
            b'{"files": [{"filename": "m-1.0.tar.gz", "url": "m-1.0.tar.gz", "hashes": {}, "size": -5, '
            b'"upload-time": "yesterday", "requires-python": 7}]}',
            JSON_V1,
        ),
        (b"[" * 100000, JSON_V1),
        (b"", JSON_V1),
        (b"", "text/html"),
        (b'{"files": []}', "application/octet-stream"),
    ],
)
def test_malformed_pages_do_not_break_the_server(
    env: Fixture, rennet: LocalServer, body: bytes, content_type: str
) -> None:
    name = "malformed-" + hashlib.sha256(body + content_type.encode()).hexdigest()[:8]
    env.upstream.raw_pages[f"/simple/{name}/"] = (body, content_type)
    response = rennet.get(f"/pypi/simple/{name}/", headers={"accept": JSON_V1})
    assert response.status_code in (200, 502), response.text
    if response.status_code == 502:
        assert "upstream" in response.text
    else:
        assert json.loads(response.content)["name"] == name
    assert rennet.get("/health").status_code == 200
    assert rennet.get("/simple/alpha/").status_code == 200


def test_hostile_project_list(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, tmp_path: Path
) -> None:
    names = ["fine", "../../etc", "<script>alert(1)</script>", "a" * 500, "also-fine", "x\ny"]
    body = json.dumps({"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]}).encode()
    upstream.raw_pages["/simple/"] = (body, JSON_V1)
    server = rennet_factory(upstream_url=upstream.url)
    data = json.loads(server.get("/pypi/simple/", headers={"accept": JSON_V1}).content)
    assert [p["name"] for p in data["projects"]] == ["fine", "also-fine"]
    html = server.get("/pypi/simple/", headers={"accept": "text/html"}).text
    assert "<script>" not in html
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("rennet-")) == [server.data_dir.name]
