"""Distribution files through the proxy: streamed once, verified before anyone may keep them, then served from disk."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.support.clients import fetch_concurrently, fetch_once
from tests.support.databases import Database
from tests.support.dists import Dist, make_sdist, make_wheel
from tests.support.pages import JSON_V1, parse_html
from tests.support.server import LocalServer, proxy_config
from tests.support.store import wait_until, wait_until_held
from tests.support.upstream import FakeUpstream

IMMUTABLE = "public, max-age=31536000, immutable"


class Fixture:
    def __init__(self, root: Path, database_url: str | None) -> None:
        self.upstream = FakeUpstream().start()
        self.bare = FakeUpstream(metadata=False).start()  # offers no .metadata files
        config = proxy_config("bare", self.bare.url)
        self.rennet = LocalServer(
            root / "data", upstream_url=self.upstream.url, config=config, database_url=database_url
        ).start()

    def add(self, *dists: Dist) -> None:
        self.upstream.add(*dists)

    def close(self) -> None:
        self.rennet.stop()
        self.upstream.stop()
        self.bare.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, database: Database) -> Iterator[Fixture]:
    with database.server_catalog() as url:
        fixture = Fixture(tmp_path_factory.mktemp("files"), url)
        yield fixture
        fixture.close()


@pytest.fixture(scope="module")
def rennet(env: Fixture) -> LocalServer:
    return env.rennet


def file_url(rennet: LocalServer, dist: Dist, index: str = "pypi") -> str:
    return f"{rennet.url}/{index}/files/{dist.project}/{dist.filename}"


# -- first request and cached copies -------------------------------------------------------------------------------


def test_first_request_streams_then_disk_serves(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("first", "1.0", padding=200_000)
    env.add(wheel)
    first = httpx.get(file_url(rennet, wheel))
    assert first.status_code == 200
    assert first.content == wheel.data
    assert first.headers["etag"] == f'"{wheel.sha256}"'
    assert first.headers["cache-control"] == IMMUTABLE
    assert "content-encoding" not in first.headers
    # The client may finish once the bytes are verified; the blob is published and recorded right after.
    wait_until_held(rennet, wheel.filename, wheel.sha256)

    second = httpx.get(file_url(rennet, wheel))
    assert second.content == wheel.data
    assert second.headers["accept-ranges"] == "bytes"
    assert second.headers["etag"] == f'"{wheel.sha256}"'
    assert second.headers["cache-control"] == IMMUTABLE
    assert int(second.headers["content-length"]) == len(wheel.data)
    assert env.upstream.count(f"/files/{wheel.filename}") == 1


def test_bytes_reach_the_client_before_the_upstream_finishes(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("streamed", "1.0", padding=1_000_000)
    env.add(wheel)
    env.upstream.fault(f"/files/{wheel.filename}", "stall")
    try:
        with httpx.stream("GET", file_url(rennet, wheel), timeout=30) as response:
            chunks = response.iter_raw()
            received = next(chunks)
            # The upstream has sent only half and waits: what we hold came through while it was still sending.
            assert received
            assert env.upstream.faults.get(f"/files/{wheel.filename}") == "stall"
            assert wheel.sha256 not in rennet.blobs(), "no file is visible before it is verified"
            env.upstream.fault(f"/files/{wheel.filename}", None)
            body = received + b"".join(chunks)
    finally:
        env.upstream.fault(f"/files/{wheel.filename}", None)
    assert body == wheel.data
    wait_until(lambda: wheel.sha256 in rennet.blobs(), "the verified file becomes a blob")


def test_download_goes_on_when_its_client_leaves(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("abandoned", "1.0", padding=1_000_000)
    env.add(wheel)
    env.upstream.fault(f"/files/{wheel.filename}", "stall")
    try:
        with httpx.stream("GET", file_url(rennet, wheel), timeout=30) as response:
            assert next(response.iter_raw())
        # The client is gone; the upstream goes on.
    finally:
        env.upstream.fault(f"/files/{wheel.filename}", None)
    wait_until(lambda: wheel.sha256 in rennet.blobs(), "the download goes on without its first client", 20)
    assert httpx.get(file_url(rennet, wheel)).content == wheel.data
    assert env.upstream.count(f"/files/{wheel.filename}") == 1


def test_head_on_cached_and_uncached_files(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("headed", "1.0", padding=100_000)
    env.add(wheel)
    for _ in range(2):  # uncached, then cached
        head = httpx.head(file_url(rennet, wheel), headers={"accept-encoding": "identity"})
        assert head.status_code == 200
        assert head.content == b""
        assert int(head.headers["content-length"]) == len(wheel.data)
        assert head.headers["accept-ranges"] == "bytes"
        assert head.headers["etag"] == f'"{wheel.sha256}"'
    assert env.upstream.count(f"/files/{wheel.filename}") == 1


def test_sdist_is_never_sent_with_content_encoding(env: Fixture, rennet: LocalServer) -> None:
    sdist = make_sdist("tarball", "1.0")
    env.add(sdist)
    for _ in range(2):  # streamed, then from disk
        response = rennet.raw("GET", f"/pypi/files/tarball/{sdist.filename}", {"accept-encoding": "gzip"})
        assert response.status == 200
        assert "content-encoding" not in response.headers
        assert response.body == sdist.data
        assert hashlib.sha256(response.body).hexdigest() == sdist.sha256


def test_if_none_match_on_a_file(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("conditional", "1.0")
    env.add(wheel)
    assert httpx.get(file_url(rennet, wheel)).status_code == 200
    again = httpx.get(file_url(rennet, wheel), headers={"if-none-match": f'"{wheel.sha256}"'})
    assert again.status_code == 304
    assert again.content == b""


def test_if_none_match_on_a_file_not_yet_held(env: Fixture, rennet: LocalServer) -> None:
    """Held or still arriving, a file answers a conditional request alike: by its verified bytes, 304 when the
    client has them (never the whole body under the ETag the client named), the whole file when it has others."""
    wheel, other = make_wheel("cold-conditional", "1.0", padding=200_000), make_wheel("cold-conditional", "2.0")
    env.add(wheel, other)
    unchanged = httpx.get(file_url(rennet, wheel), headers={"if-none-match": f'"{wheel.sha256}"'})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == f'"{wheel.sha256}"'
    assert wheel.sha256 in rennet.blobs(), "answered once the file was verified and kept"
    changed = httpx.get(file_url(rennet, other), headers={"if-none-match": f'"{wheel.sha256}"'})
    assert changed.status_code == 200
    assert changed.content == other.data
    assert changed.headers["etag"] == f'"{other.sha256}"'
    assert env.upstream.count(f"/files/{wheel.filename}") == 1
    assert env.upstream.count(f"/files/{other.filename}") == 1


# -- ranges --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ranged(env: Fixture, rennet: LocalServer) -> Dist:
    wheel = make_wheel("ranged", "1.0", padding=300_000)
    env.add(wheel)
    assert httpx.get(file_url(rennet, wheel)).content == wheel.data
    return wheel


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=0-0", 0, 0),
        ("bytes=1000-", 1000, None),
        ("bytes=-100", -100, None),  # suffix: the last 100 bytes, as poetry asks
        ("bytes=-10000000", 0, None),  # a suffix longer than the file is the whole file
        ("bytes=5-99999999", 5, None),  # an end past the file is clamped
    ],
)
def test_single_range(rennet: LocalServer, ranged: Dist, header: str, start: int, end: int | None) -> None:
    size = len(ranged.data)
    first = start if start >= 0 else size + start
    last = end if end is not None else size - 1
    response = httpx.get(file_url(rennet, ranged), headers={"range": header, "accept-encoding": "identity"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert response.content == ranged.data[first : last + 1]
    assert int(response.headers["content-length"]) == last - first + 1


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0"])
def test_unsatisfiable_range(rennet: LocalServer, ranged: Dist, header: str) -> None:
    response = httpx.get(file_url(rennet, ranged), headers={"range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(ranged.data)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=abc", "bytes=9-3"])
def test_ranges_we_do_not_honour_get_the_whole_file(rennet: LocalServer, ranged: Dist, header: str) -> None:
    response = httpx.get(file_url(rennet, ranged), headers={"range": header})
    assert response.status_code == 200
    assert response.content == ranged.data


def test_range_on_an_uncached_file(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("cold-range", "1.0", padding=100_000)
    env.add(wheel)
    response = httpx.get(file_url(rennet, wheel), headers={"range": "bytes=-22"})
    assert response.status_code == 206
    size = len(wheel.data)
    assert response.headers["content-range"] == f"bytes {size - 22}-{size - 1}/{size}"
    assert response.content == wheel.data[-22:]


# -- concurrency ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("padding", "fault"), [(0, None), (2_000_000, "drip:0.002")])
def test_concurrent_first_requests_make_one_download(
    env: Fixture, rennet: LocalServer, padding: int, fault: str | None
) -> None:
    wheel = make_wheel(f"crowd{padding}", "1.0", padding=padding)
    env.add(wheel)
    if fault:
        env.upstream.fault(f"/files/{wheel.filename}", fault)
    try:
        outcomes = fetch_concurrently(file_url(rennet, wheel), 60)
    finally:
        env.upstream.fault(f"/files/{wheel.filename}", None)
    problems = [o for o in outcomes if o.status != 200 or o.body != wheel.data]
    assert not problems, [(o.status, len(o.body), o.error, o.body[:200]) for o in problems[:5]]
    assert env.upstream.count(f"/files/{wheel.filename}") == 1


# -- PEP 658 metadata ----------------------------------------------------------------------------------------------


def test_metadata_is_proxied_and_cached(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("described", "1.0", requires=("first>=1",))
    env.add(wheel)
    for _ in range(3):
        response = httpx.get(file_url(rennet, wheel) + ".metadata")
        assert response.status_code == 200
        assert response.content == wheel.metadata
        assert "content-encoding" not in response.headers
    assert env.upstream.count(f"/files/{wheel.filename}.metadata") == 1
    assert env.upstream.count(f"/files/{wheel.filename}") == env.upstream.count(f"/files/{wheel.filename}.metadata")


def _advertised(rennet: LocalServer, index: str, project: str, filename: str) -> tuple[object, str | None]:
    page = f"/{index}/simple/{project}/"
    data = json.loads(rennet.get(page, headers={"accept": JSON_V1}).content)
    entry = next(f for f in data["files"] if f["filename"] == filename)
    anchor = parse_html(rennet.get(page, headers={"accept": "text/html"}).text).anchor(filename)
    assert anchor.attrs.get("data-core-metadata") == anchor.attrs.get("data-dist-info-metadata")
    return entry["core-metadata"], anchor.attrs.get("data-core-metadata")


def test_metadata_extracted_from_a_cached_wheel(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("extracted", "1.0", requires=("first",))
    env.bare.add(wheel)
    assert wheel.metadata is not None
    assert _advertised(rennet, "bare", "extracted", wheel.filename) == (False, None)
    assert httpx.get(file_url(rennet, wheel, "bare")).content == wheel.data

    digest = hashlib.sha256(wheel.metadata).hexdigest()
    assert _advertised(rennet, "bare", "extracted", wheel.filename) == ({"sha256": digest}, f"sha256={digest}")
    response = httpx.get(file_url(rennet, wheel, "bare") + ".metadata")
    assert response.status_code == 200
    assert response.content == wheel.metadata
    assert env.bare.count(f"/files/{wheel.filename}.metadata") == 0


def test_metadata_asked_before_the_wheel(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("eager", "2.0")
    env.bare.add(wheel)
    response = httpx.get(file_url(rennet, wheel, "bare") + ".metadata")
    assert response.status_code == 200
    assert response.content == wheel.metadata
    digest = hashlib.sha256(wheel.metadata or b"").hexdigest()
    assert _advertised(rennet, "bare", "eager", wheel.filename)[0] == {"sha256": digest}
    assert env.bare.count(f"/files/{wheel.filename}") == 1


def test_no_metadata_for_an_sdist(env: Fixture, rennet: LocalServer) -> None:
    sdist = make_sdist("plain-sdist", "1.0")
    env.bare.add(sdist)
    response = httpx.get(file_url(rennet, sdist, "bare") + ".metadata")
    assert response.status_code == 404
    assert "wheel" in response.text


@pytest.mark.parametrize(
    ("fault", "words"),
    [("wrong-bytes", "hash"), ("truncate", "broke off"), ("404", "no longer has"), ("500", "500")],
)
def test_metadata_failures_are_502_and_not_kept(env: Fixture, rennet: LocalServer, fault: str, words: str) -> None:
    wheel = make_wheel(f"bad-meta-{fault}", "1.0")
    env.add(wheel)
    env.upstream.fault(f"/files/{wheel.filename}.metadata", fault)
    try:
        response = httpx.get(file_url(rennet, wheel) + ".metadata")
    finally:
        env.upstream.fault(f"/files/{wheel.filename}.metadata", None)
    assert response.status_code == 502, response.text
    assert words in response.text
    assert "metadata" in response.text
    assert hashlib.sha256(wheel.metadata or b"").hexdigest() not in rennet.blobs()
    again = httpx.get(file_url(rennet, wheel) + ".metadata")
    assert again.status_code == 200
    assert again.content == wheel.metadata


# -- failures that must not be cached ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["wrong-bytes", "truncate", "overflow"])
@pytest.mark.parametrize("padding", [0, 400_000])
def test_bad_transfer_is_aborted_and_not_kept(env: Fixture, rennet: LocalServer, fault: str, padding: int) -> None:
    wheel = make_wheel(f"broken-{fault}-{padding}", "1.0", padding=padding)
    env.add(wheel)
    env.upstream.fault(f"/files/{wheel.filename}", fault)
    try:
        outcome = fetch_once(file_url(rennet, wheel))
    finally:
        env.upstream.fault(f"/files/{wheel.filename}", None)
    # Either an error status or a broken-off body: never a complete 200 the client would accept.
    assert outcome.status != 200 or outcome.error is not None, (outcome.status, len(outcome.body))
    assert outcome.body != wheel.data
    assert wheel.sha256 not in rennet.blobs()
    # Other tests' downloads on this server may still be settling (a client has its bytes before they are kept).
    wait_until(lambda: not rennet.partial_files(), "no partial file is left")
    entry = json.loads(rennet.get(f"/pypi/simple/{wheel.project}/", headers={"accept": JSON_V1}).content)
    assert entry["files"][0]["hashes"] == {"sha256": wheel.sha256}

    healed = httpx.get(file_url(rennet, wheel))
    assert healed.status_code == 200
    assert healed.content == wheel.data
    wait_until_held(rennet, wheel.filename, wheel.sha256)  # settled before the next test looks


def test_other_hash_algorithms_are_passed_through_and_verified(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("old-hashes", "1.0")
    md5 = hashlib.md5(wheel.data).hexdigest()  # what old indexes publish
    sha512 = hashlib.sha512(wheel.data).hexdigest()
    env.add(replace(wheel, extra={"hashes": {"md5": md5, "sha512": sha512}}))
    page = f"/pypi/simple/{wheel.project}/"
    entry = json.loads(rennet.get(page, headers={"accept": JSON_V1}).content)["files"][0]
    assert entry["hashes"] == {"md5": md5, "sha512": sha512}
    anchor = parse_html(rennet.get(page, headers={"accept": "text/html"}).text).anchor(wheel.filename)
    assert anchor.href.endswith(f"#sha512={sha512}"), "the strongest hash goes into the fragment"

    env.upstream.fault(f"/files/{wheel.filename}", "wrong-bytes")
    try:
        outcome = fetch_once(file_url(rennet, wheel))
    finally:
        env.upstream.fault(f"/files/{wheel.filename}", None)
    assert outcome.status != 200 or outcome.error is not None
    assert not rennet.blobs() & {wheel.sha256, hashlib.sha256(outcome.body).hexdigest()}

    assert httpx.get(file_url(rennet, wheel)).content == wheel.data
    # The client may finish once the bytes are verified; they are recorded (with their sha256) right after.
    wait_until_held(rennet, wheel.filename, wheel.sha256)
    entry = json.loads(rennet.get(page, headers={"accept": JSON_V1}).content)["files"][0]
    assert entry["hashes"] == {"md5": md5, "sha512": sha512, "sha256": wheel.sha256}, "learned by holding it"


def test_every_waiting_client_sees_the_failure(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("crowd-broken", "1.0", padding=300_000)
    env.add(wheel)
    env.upstream.fault(f"/files/{wheel.filename}", "wrong-bytes")
    try:
        outcomes = fetch_concurrently(file_url(rennet, wheel), 20)
    finally:
        env.upstream.fault(f"/files/{wheel.filename}", None)
    assert all(o.status != 200 or o.error is not None for o in outcomes), [o.status for o in outcomes]
    assert not any(o.body == wheel.data for o in outcomes)
    assert wheel.sha256 not in rennet.blobs()


def test_upstream_size_disagreeing_with_the_index_is_refused(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("wrong-size", "1.0")
    env.add(replace(wheel, extra={"size": len(wheel.data) + 10}))
    outcome = fetch_once(file_url(rennet, wheel))
    assert outcome.status != 200 or outcome.error is not None
    assert wheel.sha256 not in rennet.blobs()


def test_file_gone_upstream_is_a_clear_502(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("vanishing", "1.0")
    env.add(wheel)
    rennet.get("/pypi/simple/vanishing/")
    env.upstream.fault(f"/files/{wheel.filename}", "404")
    try:
        response = httpx.get(file_url(rennet, wheel))
    finally:
        env.upstream.fault(f"/files/{wheel.filename}", None)
    assert response.status_code == 502
    assert "no longer has" in response.text


def test_unknown_file_is_a_clear_404(env: Fixture, rennet: LocalServer) -> None:
    env.add(make_wheel("known", "1.0"))
    response = httpx.get(f"{rennet.url}/pypi/files/known/known-9.9-py3-none-any.whl")
    assert response.status_code == 404
    assert "known-9.9-py3-none-any.whl" in response.text


def test_a_slow_client_does_not_hold_up_others(env: Fixture, rennet: LocalServer) -> None:
    wheel = make_wheel("patient", "1.0", padding=3_000_000)
    env.add(wheel)
    started = threading.Event()
    release = threading.Event()
    slow_body: list[bytes] = []

    def slow_reader() -> None:
        with httpx.stream("GET", file_url(rennet, wheel), timeout=60) as response:
            chunks = response.iter_raw(16384)
            slow_body.append(next(chunks))
            started.set()
            release.wait(30)
            slow_body.append(b"".join(chunks))

    thread = threading.Thread(target=slow_reader)
    thread.start()
    try:
        assert started.wait(30)
        fast = httpx.get(file_url(rennet, wheel), timeout=30)
        assert fast.content == wheel.data
    finally:
        release.set()
        thread.join(60)
    assert b"".join(slow_body) == wheel.data
    assert env.upstream.count(f"/files/{wheel.filename}") == 1
