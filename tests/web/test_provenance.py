"""PEP 740 provenance of proxied files: pages name rennet's own Integrity API, which fetches the upstream's
provenance once, checks it, keeps it, and serves it under the file's own rules (groups, deny, private indexes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace

import httpx
import pytest

from tests.support.accounts import serving
from tests.support.databases import Database
from tests.support.dists import make_sdist, make_wheel
from tests.support.hosting import ALICE
from tests.support.pages import JSON_V1, parse_html
from tests.support.server import LocalServer, proxy_config
from tests.support.store import wait_until
from tests.support.upstream import FakeUpstream

ATTESTED = make_wheel("attested", "1.0")
PLAIN = make_sdist("attested", "1.0")
GARBLED = make_wheel("attested", "2.0")
DENIED = make_wheel("attested-denied", "1.0")


def provenance_object(repository: str) -> bytes:
    publisher = {"kind": "GitHub", "repository": repository, "workflow": "release.yml", "environment": None}
    return json.dumps({"version": 1, "attestation_bundles": [{"publisher": publisher, "attestations": []}]}).encode()


PROVENANCE = provenance_object("example/attested")
CONFIG = """
[index.local]
upload = ["alice"]

[index.pypi]
deny = ["attested-denied"]
"""


class Env:
    def __init__(self, upstream: FakeUpstream, server: LocalServer) -> None:
        self.upstream = upstream
        self.server = server


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, database: Database) -> Iterator[Env]:
    upstream = FakeUpstream().start()
    upstream.add(ATTESTED, PLAIN, GARBLED, DENIED)
    upstream.attest(ATTESTED.filename, PROVENANCE)
    upstream.attest(GARBLED.filename, b'{"version": 2, "attestation_bundles": []}')
    upstream.attest(DENIED.filename, PROVENANCE)
    config = CONFIG + proxy_config("secret", upstream.url, private=True) + 'read = ["alice"]\n'
    base = tmp_path_factory.mktemp("provenance")
    try:
        with serving(base, config, [ALICE], upstream_url=upstream.url, database=database) as server:
            yield Env(upstream, server)
    finally:
        upstream.stop()


def integrity(index: str, filename: str, version: str = "1.0", project: str = "attested") -> str:
    prefix = f"/{index}" if index else ""
    return f"{prefix}/integrity/{project}/{version}/{filename}/provenance"


def test_pages_name_rennets_integrity_api_for_files_with_provenance_only(env: Env) -> None:
    server = env.server
    for index in ("pypi", "default"):
        page = json.loads(server.get(f"/{index}/simple/attested/", headers={"accept": JSON_V1}).content)
        files = {entry["filename"]: entry for entry in page["files"]}
        assert files[ATTESTED.filename]["provenance"] == server.url + integrity(index, ATTESTED.filename)
        assert "provenance" not in files[PLAIN.filename]
        html = parse_html(server.get(f"/{index}/simple/attested/", headers={"accept": "text/html"}).text)
        assert html.anchor(ATTESTED.filename).attrs["data-provenance"] == server.url + integrity(
            index, ATTESTED.filename
        )
        assert "data-provenance" not in html.anchor(PLAIN.filename).attrs
    assert env.upstream.count("/integrity/") == 0, "a page names the provenance without fetching it"


def test_the_upstream_provenance_is_fetched_once_and_served_from_the_store(env: Env) -> None:
    server = env.server
    for path in (integrity("pypi", ATTESTED.filename), integrity("default", ATTESTED.filename)):
        for _ in range(2):
            response = server.get(path)
            assert response.status_code == 200, response.text
            assert response.content == PROVENANCE
            assert response.headers["content-type"] == "application/vnd.pypi.integrity.v1+json"
    # The default group's own URL (as PyPI spells it, without an index) answers the same.
    assert server.get(integrity("", ATTESTED.filename)).content == PROVENANCE
    assert server.get(path, headers={"accept": "application/json"}).headers["content-type"] == "application/json"
    assert env.upstream.count(f"/integrity/attested/1.0/{ATTESTED.filename}/") == 1
    assert hashlib.sha256(PROVENANCE).hexdigest() in server.blobs()
    etag = server.get(path).headers["etag"]
    assert server.get(path, headers={"if-none-match": etag}).status_code == 304


def test_a_file_without_provenance_answers_404_with_a_sentence(env: Env) -> None:
    response = env.server.get(integrity("pypi", PLAIN.filename))
    assert response.status_code == 404
    assert response.text.strip() == f"pypi has no provenance for {PLAIN.filename}"
    unknown = env.server.get(integrity("pypi", "attested-9.0-py3-none-any.whl", "9.0"))
    assert unknown.status_code == 404
    assert "has no file 'attested-9.0-py3-none-any.whl'" in unknown.text
    wrong_version = env.server.get(integrity("pypi", ATTESTED.filename, "2.0"))
    assert wrong_version.status_code == 404
    assert wrong_version.text.strip() == f"{ATTESTED.filename} is not a file of version '2.0'"


def test_a_provenance_that_is_no_pep_740_object_is_refused_with_502_and_not_kept(env: Env) -> None:
    response = env.server.get(integrity("pypi", GARBLED.filename, "2.0"))
    assert response.status_code == 502
    assert f"the upstream sent no usable provenance for {GARBLED.filename}" in response.text
    assert "not a PEP 740 provenance object" in response.text
    env.upstream.attest(GARBLED.filename, b"x" * (2 << 20))
    too_large = env.server.get(integrity("pypi", GARBLED.filename, "2.0"))
    assert too_large.status_code == 502
    assert "larger than" in too_large.text


def test_a_denied_files_provenance_is_refused_as_the_file_is(env: Env) -> None:
    for index in ("pypi", "default"):
        response = env.server.get(integrity(index, DENIED.filename, project="attested-denied"))
        assert response.status_code == 403
        assert response.text.strip() == f"{DENIED.filename} is denied by index 'pypi''s deny rule 'attested-denied'"
    assert env.upstream.count("/integrity/attested-denied/") == 0


def test_a_private_indexes_provenance_needs_credentials(env: Env) -> None:
    path = integrity("secret", ATTESTED.filename)
    anonymous = env.server.get(path)
    assert anonymous.status_code == 401
    assert "basic" in anonymous.headers["www-authenticate"].lower()
    response = env.server.get(path, auth=ALICE)
    assert response.status_code == 200
    assert response.content == PROVENANCE
    assert response.headers["cache-control"].startswith("private")


def test_an_upstream_failure_with_nothing_held_answers_502_with_a_sentence(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    upstream.add(ATTESTED)
    upstream.attest(ATTESTED.filename, PROVENANCE)
    server = rennet_factory(upstream_url=upstream.url)
    assert server.get("/pypi/simple/attested/").status_code == 200
    upstream.fault("/integrity/", "500")
    response = server.get(integrity("pypi", ATTESTED.filename))
    assert response.status_code == 502
    assert f"pypi: the provenance of {ATTESTED.filename} is not held: the upstream answered 500" in response.text
    upstream.fault("/integrity/", None)
    assert server.get(integrity("pypi", ATTESTED.filename)).content == PROVENANCE


def test_held_provenance_is_served_after_the_upstream_is_gone(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    upstream.add(ATTESTED)
    upstream.attest(ATTESTED.filename, PROVENANCE)
    server = rennet_factory(upstream_url=upstream.url, config=proxy_config("pypi", page_ttl="0s"))
    assert server.get(integrity("pypi", ATTESTED.filename)).content == PROVENANCE
    upstream.stop()
    # The page is stale now, and its refresh fails: the page is served as held, and the provenance from the store.
    wait_until(lambda: server.get("/pypi/simple/attested/").status_code == 200, "the held page is served")
    for path in (integrity("pypi", ATTESTED.filename), integrity("default", ATTESTED.filename)):
        response = server.get(path)
        assert response.status_code == 200, response.text
        assert response.content == PROVENANCE
    with pytest.raises(httpx.ConnectError):
        httpx.get(upstream.provenance_url(ATTESTED.filename), timeout=2)


def test_a_snapshot_serves_the_provenance_of_the_files_it_lists_only(env: Env) -> None:
    server = env.server
    page = json.loads(
        server.get("/default/snapshot/2025-01-01/simple/attested/", headers={"accept": JSON_V1}).content
    )
    files = {entry["filename"]: entry for entry in page["files"]}
    url = files[ATTESTED.filename]["provenance"]
    assert url == server.url + "/default/snapshot/2025-01-01T00:00:00Z" + integrity("", ATTESTED.filename)
    assert server.get(url.removeprefix(server.url)).content == PROVENANCE
    before = server.get("/default/snapshot/2020-01-01" + integrity("", ATTESTED.filename))
    # Refused as the file is there: a later file is not in the snapshot.
    assert before.status_code == 403
    assert before.text.startswith(f"{ATTESTED.filename} is not in the snapshot of index 'default' at 2020-01-01")


def test_another_provenance_named_upstream_is_fetched_again(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    upstream.add(ATTESTED)
    upstream.attest(ATTESTED.filename, PROVENANCE)
    server = rennet_factory(upstream_url=upstream.url, config=proxy_config("pypi", page_ttl="0s"))
    assert server.get(integrity("pypi", ATTESTED.filename)).content == PROVENANCE
    assert server.get(integrity("pypi", ATTESTED.filename)).content == PROVENANCE
    assert upstream.count("/integrity/") == 1
    # The upstream's page now names another provenance (a new attestation was added, say).
    renewed = provenance_object("example/renewed")
    upstream.attest(ATTESTED.filename, renewed)
    upstream.replace(replace(ATTESTED, extra={"provenance": upstream.provenance_url(ATTESTED.filename) + "?2"}))
    assert server.get(integrity("pypi", ATTESTED.filename)).content == renewed
    assert upstream.count("/integrity/") == 2
