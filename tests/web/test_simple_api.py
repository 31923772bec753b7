"""The Simple API as clients see it: negotiation, redirects, every field of PEP 503/691/700/714/740/792, lists."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.support.databases import Database
from tests.support.dists import Dist, make_sdist, make_wheel
from tests.support.pages import (
    HTML_V1,
    JSON_V1,
    PIP_ACCEPT,
    POETRY_ACCEPT,
    UV_ACCEPT,
    absolute,
    all_keys,
    parse_html,
)
from tests.support.server import LocalServer, proxy_config
from tests.support.store import wait_until
from tests.support.uploads import hosted_file_row
from tests.support.upstream import FakeUpstream

PROVENANCE = "https://attestations.invalid/rich/rich-1.0-py3-none-any.whl.provenance"
UPLOAD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def _rich() -> list[Dist]:
    return [
        replace(make_wheel("rich", "1.0", requires_python=">=3.8,<4"), extra={"provenance": PROVENANCE}),
        replace(make_wheel("rich", "2.0"), yanked="broken <build>"),
        make_sdist("rich", "2.0"),
    ]


class Fixture:
    def __init__(self, root: Path, database_url: str | None) -> None:
        self.negotiating = FakeUpstream().start()
        self.html_only = FakeUpstream(page_format="html").start()
        self.json_only = FakeUpstream(page_format="json").start()
        for upstream in (self.negotiating, self.html_only, self.json_only):
            upstream.add(*_rich(), make_wheel("Quiet.Lib", "0.1"), make_wheel("locked", "1.0"))
            upstream.statuses["rich"] = ("archived", "moved to rich2")
            upstream.statuses["locked"] = ("quarantined", None)
        config = proxy_config("htmlup", self.html_only.url) + proxy_config("jsonup", self.json_only.url)
        self.rennet = LocalServer(
            root / "data", upstream_url=self.negotiating.url, config=config, database_url=database_url
        ).start()

    def close(self) -> None:
        self.rennet.stop()
        for upstream in (self.negotiating, self.html_only, self.json_only):
            upstream.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, database: Database) -> Iterator[Fixture]:
    with database.server_catalog() as url:
        fixture = Fixture(tmp_path_factory.mktemp("simple"), url)
        yield fixture
        fixture.close()


@pytest.fixture(scope="module")
def rennet(env: Fixture) -> LocalServer:
    return env.rennet


# -- negotiation --------------------------------------------------------------------------------------------------

NEGOTIATION = [
    (None, "text/html"),
    ("*/*", "text/html"),
    ("text/html", "text/html"),
    (PIP_ACCEPT, JSON_V1),
    (UV_ACCEPT, JSON_V1),
    (POETRY_ACCEPT, JSON_V1),
    (HTML_V1, HTML_V1),
    (JSON_V1, JSON_V1),
    ("application/vnd.pypi.simple.latest+json", JSON_V1),
    ("application/vnd.pypi.simple.latest+html", HTML_V1),
    (f"{JSON_V1};q=0.5, text/html;q=0.9", "text/html"),
    (f"{JSON_V1};q=0, */*", None),  # q=0 means "not acceptable": some HTML type
    (f"text/html;q=0.2, {HTML_V1};q=0.3", HTML_V1),
    ("image/png", "text/html"),  # nothing acceptable: HTML, never 406
    ("application/json", "text/html"),  # plain JSON is not the simple JSON type
    ("text/*", "text/html"),
]


@pytest.mark.parametrize("path", ["/simple/rich/", "/pypi/simple/rich/", "/simple/", "/pypi/simple/"])
@pytest.mark.parametrize(("accept", "expected"), NEGOTIATION)
def test_negotiation_honours_q_values(
    rennet: LocalServer, path: str, accept: str | None, expected: str | None
) -> None:
    headers = {"accept": accept} if accept is not None else {}
    response = rennet.get(path, headers=headers)
    assert response.status_code == 200, response.text
    media_type = response.headers["content-type"].split(";")[0].strip()
    if expected is None:
        assert media_type in ("text/html", HTML_V1)
    else:
        assert media_type == expected
    assert "accept" in [v.strip().lower() for v in response.headers["vary"].split(",")]
    if media_type == JSON_V1:
        assert json.loads(response.content)["meta"]["api-version"] == "1.4"
    else:
        assert parse_html(response.text).meta["pypi:repository-version"] == "1.4"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("format=application/vnd.pypi.simple.v1%2Bjson", JSON_V1),
        ("format=application/vnd.pypi.simple.v1+json", JSON_V1),  # typed by hand: '+' arrives as a space
        ("format=text/html", "text/html"),
        ("format=application/vnd.pypi.simple.v1%2Bhtml", HTML_V1),
    ],
)
def test_format_query_parameter_overrides_accept(rennet: LocalServer, query: str, expected: str) -> None:
    for path in ("/pypi/simple/rich/", "/simple/"):
        accept = "text/html" if expected == JSON_V1 else JSON_V1
        response = rennet.raw("GET", f"{path}?{query}", {"accept": accept})
        assert response.status == 200
        assert response.headers["content-type"].split(";")[0] == expected, (path, query)


def test_content_type_on_every_page_response(rennet: LocalServer) -> None:
    for path in ("/simple/rich/", "/pypi/simple/rich/", "/simple/", "/pypi/simple/"):
        for method in ("GET", "HEAD"):
            response = httpx.request(method, rennet.url + path, headers={"accept": UV_ACCEPT})
            assert response.headers["content-type"] == JSON_V1, (method, path)


# -- redirects ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/simple/Rich/", "/simple/rich/"),
        ("/simple/rich", "/simple/rich/"),
        ("/simple/Quiet.Lib", "/simple/quiet-lib/"),
        ("/simple/quiet_lib/", "/simple/quiet-lib/"),
        ("/simple/QUIET--LIB/", "/simple/quiet-lib/"),
        ("/pypi/simple/Quiet.Lib/", "/pypi/simple/quiet-lib/"),
        ("/pypi/simple/rich", "/pypi/simple/rich/"),
        ("/simple", "/simple/"),
        ("/pypi/simple", "/pypi/simple/"),
        ("/simple/Rich/?format=text/html", "/simple/rich/?format=text/html"),
    ],
)
def test_non_canonical_urls_redirect_permanently(rennet: LocalServer, target: str, location: str) -> None:
    response = rennet.raw("GET", target)
    assert response.status == 301
    assert response.headers["location"] in (location, rennet.url + location)


def test_redirect_leads_to_the_page(rennet: LocalServer) -> None:
    response = httpx.get(rennet.url + "/simple/Quiet_Lib", follow_redirects=True, headers={"accept": JSON_V1})
    assert response.status_code == 200
    assert json.loads(response.content)["name"] == "quiet-lib"


# -- every field --------------------------------------------------------------------------------------------------


def _by_name(files: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(f["filename"]): f for f in files}


@pytest.mark.parametrize("index", ["pypi", "jsonup", "htmlup"])
def test_html_page_carries_every_field(rennet: LocalServer, index: str) -> None:
    page_url = f"{rennet.url}/{index}/simple/rich/"
    response = httpx.get(page_url, headers={"accept": "text/html"})
    assert response.status_code == 200
    page = parse_html(response.text)
    assert page.meta["pypi:repository-version"] == "1.4"
    assert page.meta["pypi:project-status"] == "archived"
    wheel, yanked, sdist = _rich()

    anchor = page.anchor(wheel.filename)
    url, _, fragment = absolute(page_url, anchor.href).partition("#")
    assert url == f"{rennet.url}/{index}/files/rich/{wheel.filename}"
    assert fragment == f"sha256={wheel.sha256}"
    assert anchor.attrs["data-requires-python"] == ">=3.8,<4"
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in response.text, "requires-python must be HTML-escaped"
    assert wheel.metadata is not None
    expected_metadata = "sha256=" + hashlib.sha256(wheel.metadata).hexdigest()
    assert anchor.attrs["data-core-metadata"] == expected_metadata
    assert anchor.attrs["data-dist-info-metadata"] == expected_metadata
    # rennet's own Integrity API, never the upstream's URL (rennet fetches and keeps the provenance).
    assert anchor.attrs["data-provenance"] == f"{rennet.url}/{index}/integrity/rich/1.0/{wheel.filename}/provenance"
    assert "data-yanked" not in anchor.attrs

    assert page.anchor(yanked.filename).attrs["data-yanked"] == "broken <build>"
    sdist_anchor = page.anchor(sdist.filename)
    assert "data-core-metadata" not in sdist_anchor.attrs
    assert "data-dist-info-metadata" not in sdist_anchor.attrs
    assert "?" not in response.text.split("<body>", 1)[1], "file URLs never carry a query string"


@pytest.mark.parametrize("index", ["pypi", "jsonup"])
def test_json_page_carries_every_field(rennet: LocalServer, index: str) -> None:
    page_url = f"{rennet.url}/{index}/simple/rich/"
    response = httpx.get(page_url, headers={"accept": JSON_V1})
    data = json.loads(response.content)
    assert "dist-info-metadata" not in all_keys(data), "pip fails on the JSON key dist-info-metadata"
    assert data["meta"]["api-version"] == "1.4"
    assert data["name"] == "rich"
    assert data["project-status"] == {"status": "archived", "reason": "moved to rich2"}
    assert data["versions"] == ["1.0", "2.0"]
    files = _by_name(data["files"])
    wheel, yanked, sdist = _rich()
    assert set(files) == {wheel.filename, yanked.filename, sdist.filename}

    entry = files[wheel.filename]
    assert absolute(page_url, str(entry["url"])) == f"{rennet.url}/{index}/files/rich/{wheel.filename}"
    assert entry["hashes"] == {"sha256": wheel.sha256}
    assert entry["requires-python"] == ">=3.8,<4"
    assert entry["yanked"] is False
    assert wheel.metadata is not None
    assert entry["core-metadata"] == {"sha256": hashlib.sha256(wheel.metadata).hexdigest()}
    assert entry["provenance"] == f"{rennet.url}/{index}/integrity/rich/1.0/{wheel.filename}/provenance"
    assert entry["size"] == len(wheel.data)
    assert UPLOAD_TIME.match(str(entry["upload-time"]))
    assert str(entry["upload-time"]).startswith("2024-01-02T03:04:05")

    assert files[yanked.filename]["yanked"] == "broken <build>"
    assert files[sdist.filename]["core-metadata"] is False
    assert files[sdist.filename]["size"] == len(sdist.data)
    for file in data["files"]:
        assert "?" not in file["url"]


def test_html_upstream_fields_and_size_after_caching(rennet: LocalServer, env: Fixture) -> None:
    page_url = f"{rennet.url}/htmlup/simple/rich/"
    wheel, yanked, sdist = _rich()
    data = json.loads(httpx.get(page_url, headers={"accept": JSON_V1}).content)
    files = _by_name(data["files"])
    assert files[yanked.filename]["yanked"] == "broken <build>"
    assert (
        files[wheel.filename]["provenance"] == f"{rennet.url}/htmlup/integrity/rich/1.0/{wheel.filename}/provenance"
    )
    assert data["project-status"]["status"] == "archived"
    assert "dist-info-metadata" not in all_keys(data)
    assert files[wheel.filename]["core-metadata"] == {"sha256": hashlib.sha256(wheel.metadata or b"").hexdigest()}
    # An HTML page states neither size nor upload time: they are learned by holding the file.
    assert "size" not in files[sdist.filename]
    assert "upload-time" not in files[sdist.filename]

    fetched = httpx.get(f"{rennet.url}/htmlup/files/rich/{sdist.filename}")
    assert fetched.content == sdist.data
    # The client may finish once the bytes are verified; what holding them taught is recorded right after, in
    # htmlup's row (the same file may be listed by several indexes).
    wait_until(
        lambda: (hosted_file_row(rennet, "htmlup", sdist.filename) or {}).get("blob_sha256") == sdist.sha256,
        f"{sdist.filename} held by htmlup",
    )
    data = json.loads(httpx.get(page_url, headers={"accept": JSON_V1}).content)
    entry = _by_name(data["files"])[sdist.filename]
    assert entry["size"] == len(sdist.data)
    assert entry["upload-time"] == "2024-01-02T03:04:05Z"  # the upstream's Last-Modified


def test_rennet_asks_upstreams_for_json_first(env: Fixture, rennet: LocalServer) -> None:
    rennet.get("/pypi/simple/quiet-lib/")
    seen = env.negotiating.seen_headers("/simple/quiet-lib/")
    assert seen, "the page must have been fetched from the upstream"
    accept = seen[-1]["accept"]
    assert accept.split(",")[0].strip() == JSON_V1
    # The negotiating upstream answered JSON: fields only JSON carries are there before any file is fetched.
    data = json.loads(rennet.get("/pypi/simple/quiet-lib/", headers={"accept": JSON_V1}).content)
    assert all("size" in f and "upload-time" in f for f in data["files"])


def test_legacy_json_key_is_read_but_never_written(rennet: LocalServer, env: Fixture) -> None:
    wheel = make_wheel("legacy-meta", "1.0")
    digest = hashlib.sha256(wheel.metadata or b"").hexdigest()
    env.json_only.add(replace(wheel, metadata=None, extra={"dist-info-metadata": {"sha256": digest}}))
    data = json.loads(rennet.get("/jsonup/simple/legacy-meta/", headers={"accept": JSON_V1}).content)
    assert "dist-info-metadata" not in all_keys(data)
    assert data["files"][0]["core-metadata"] == {"sha256": digest}
    page = parse_html(rennet.get("/jsonup/simple/legacy-meta/", headers={"accept": "text/html"}).text)
    anchor = page.anchor(wheel.filename)
    assert anchor.attrs["data-core-metadata"] == anchor.attrs["data-dist-info-metadata"] == f"sha256={digest}"


def test_quarantined_project_lists_no_files(rennet: LocalServer) -> None:
    data = json.loads(rennet.get("/pypi/simple/locked/", headers={"accept": JSON_V1}).content)
    assert data["files"] == []
    assert data["project-status"]["status"] == "quarantined"
    page = parse_html(rennet.get("/pypi/simple/locked/", headers={"accept": "text/html"}).text)
    assert page.anchors == []
    assert page.meta["pypi:project-status"] == "quarantined"


def test_quarantined_project_files_are_not_served_either(rennet: LocalServer) -> None:
    """PEP 792: a quarantined project offers nothing, not even by a file's direct URL."""
    refused = rennet.get("/pypi/files/locked/locked-1.0-py3-none-any.whl")
    assert refused.status_code == 404
    assert rennet.get("/pypi/files/locked/locked-1.0-py3-none-any.whl.metadata").status_code == 404


def test_file_urls_drop_the_upstream_query_string(rennet: LocalServer, env: Fixture) -> None:
    wheel = make_wheel("signed-url", "1.0")
    env.negotiating.add(replace(wheel, extra={"url": env.negotiating.file_url(wheel.filename) + "?sig=abc&exp=1"}))
    data = json.loads(rennet.get("/pypi/simple/signed-url/", headers={"accept": JSON_V1}).content)
    url = data["files"][0]["url"]
    assert "?" not in url and "sig=" not in url
    fetched = httpx.get(absolute(f"{rennet.url}/pypi/simple/signed-url/", url))
    assert fetched.status_code == 200
    assert fetched.content == wheel.data
    metadata = httpx.get(absolute(f"{rennet.url}/pypi/simple/signed-url/", url) + ".metadata")
    assert metadata.status_code == 200
    assert metadata.content == wheel.metadata


def test_an_upstream_with_relative_urls(rennet: LocalServer, rennet_factory: Callable[..., LocalServer]) -> None:
    """Another rennet as the upstream: its pages have relative file URLs, in JSON and in HTML."""
    config = proxy_config("viahtml", rennet.url + "/htmlup/simple/")
    chained = rennet_factory(upstream_url=rennet.url + "/pypi/simple/", config=config)
    wheel, yanked, sdist = _rich()
    for index in ("pypi", "viahtml"):
        data = json.loads(chained.get(f"/{index}/simple/rich/", headers={"accept": JSON_V1}).content)
        files = _by_name(data["files"])
        assert set(files) == {wheel.filename, yanked.filename, sdist.filename}
        assert files[yanked.filename]["yanked"] == "broken <build>"
        fetched = chained.get(f"/{index}/files/rich/{wheel.filename}")
        assert fetched.content == wheel.data
        assert chained.get(f"/{index}/files/rich/{wheel.filename}.metadata").content == wheel.metadata


# -- conditional requests, compression, caching headers ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/pypi/simple/rich/", "/simple/rich/", "/pypi/simple/", "/simple/"])
@pytest.mark.parametrize("accept", ["text/html", JSON_V1])
def test_pages_are_conditional_and_compressed(rennet: LocalServer, path: str, accept: str) -> None:
    plain = rennet.get(path, headers={"accept": accept, "accept-encoding": "identity"})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    assert re.fullmatch(r'"[^"]+"', etag), f"a strong ETag, not {etag!r}"
    assert "max-age=" in plain.headers["cache-control"]

    again = rennet.get(path, headers={"accept": accept, "accept-encoding": "identity", "if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    packed = httpx.get(rennet.url + path, headers={"accept": accept, "accept-encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # httpx decompressed it
    assert packed.headers["etag"] != etag, "compressed and plain bytes need different ETags"
    assert "accept-encoding" in packed.headers["vary"].lower()

    head = httpx.head(rennet.url + path, headers={"accept": accept, "accept-encoding": "identity"})
    assert head.status_code == 200
    assert head.headers["etag"] == etag
    assert int(head.headers["content-length"]) == len(plain.content)


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0, identity", False),
        ("identity", False),
        ("br", False),
        ("*;q=0", False),
        ("", False),
    ],
)
@pytest.mark.parametrize("path", ["/pypi/simple/rich/", "/pypi/simple/"])
def test_gzip_only_when_accept_encoding_allows_it(
    rennet: LocalServer, path: str, accept_encoding: str, gzipped: bool
) -> None:
    response = rennet.raw("GET", path, {"accept-encoding": accept_encoding})
    assert response.status == 200
    assert (response.headers.get("content-encoding") == "gzip") is gzipped
    body = gzip.decompress(response.body) if gzipped else response.body
    assert b"rich" in body


def test_proxy_pages_have_a_positive_max_age(rennet: LocalServer) -> None:
    response = rennet.get("/pypi/simple/rich/")
    match = re.search(r"max-age=(\d+)", response.headers["cache-control"])
    assert match and 0 < int(match[1]) <= 600


# -- the project list ---------------------------------------------------------------------------------------------


def test_project_list_json_and_html(rennet: LocalServer, env: Fixture) -> None:
    for path in ("/simple/", "/pypi/simple/"):
        data = json.loads(rennet.get(path, headers={"accept": JSON_V1}).content)
        assert data["meta"]["api-version"] == "1.4"
        names = {p["name"] for p in data["projects"]}
        assert {"rich", "locked", "quiet-lib"} <= names
        page = parse_html(rennet.get(path, headers={"accept": "text/html"}).text)
        hrefs = {a.text: absolute(rennet.url + path, a.href) for a in page.anchors}
        assert hrefs["rich"] == f"{rennet.url}{path}rich/"


def test_project_list_is_rendered_to_files_with_gzip_twins(rennet: LocalServer) -> None:
    plain = rennet.get("/pypi/simple/", headers={"accept": JSON_V1, "accept-encoding": "identity"})
    raw = httpx.get(rennet.url + "/pypi/simple/", headers={"accept": JSON_V1, "accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    on_disk = rennet.data_dir / "listings" / "pypi"
    renders = {p.name.split(".", 1)[1] for p in on_disk.iterdir() if not p.name.startswith(".")}
    assert {"names", "html", "json", "html.gz", "json.gz"} <= renders
    assert any(p.read_bytes() == plain.content for p in on_disk.glob("*.json"))
    assert any(gzip.decompress(p.read_bytes()) == plain.content for p in on_disk.glob("*.json.gz"))


def test_unknown_project_is_a_clear_404(rennet: LocalServer) -> None:
    for path in ("/simple/no-such-project/", "/pypi/simple/no-such-project/"):
        response = rennet.get(path)
        assert response.status_code == 404
        assert "no-such-project" in response.text
