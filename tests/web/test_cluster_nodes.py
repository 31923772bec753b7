"""Servers on several hosts sharing one PostgreSQL catalog (each with a data directory of its own): what one of
them changes, every other one serves at once: new uploads on pages it had cached, revoked tokens refused."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rennet.service.runtime.auth import MAX_FAILURES
from rennet.storage.accounts import ACCOUNTS_SLOT
from rennet.storage.generations import slot_of
from tests.support.accounts import add_user, create_token, elsewhere, token_key
from tests.support.databases import Database
from tests.support.dists import make_sdist, make_wheel
from tests.support.hosting import ALICE, upload
from tests.support.postgres import PostgresServer
from tests.support.s3 import S3Server
from tests.support.server import LocalServer
from tests.support.store import blob_path, wait_until, wait_until_held
from tests.support.uploads import Multipart, post_upload
from tests.support.upstream import NOWHERE, FakeUpstream

ATTESTED = Path(__file__).parent.parent / "fixtures" / "attestations"
CONFIG = '[index.local]\nprivate = true\nread = ["alice"]\nupload = ["alice"]\n[index.default]\nprivate = true\n'


@pytest.fixture(params=["psycopg", "psycopg2"])
def nodes(
    request: pytest.FixtureRequest, postgres_server: PostgresServer, tmp_path: Path
) -> Iterator[Callable[..., LocalServer]]:
    """Servers, each with its own data directory, on one PostgreSQL database (and, given `blob_store`, one
    bucket); their pypi proxies ask `upstream_url`."""
    database = Database(request.param, postgres_server)
    url = database.new_url()
    started: list[LocalServer] = []

    def node(
        blob_store: str | None = None, upstream_url: str = NOWHERE, settings: str = "", tables: str = ""
    ) -> LocalServer:
        data_dir = tmp_path / f"node-{len(started)}"
        config = (f'blob_store = "{blob_store}"\n' if blob_store else "") + settings + CONFIG + tables
        server = LocalServer(data_dir, upstream_url=upstream_url, config=config, database_url=url)
        started.append(server.start())
        return server

    yield node
    for server in started:
        server.stop()
    database.release(url)


def _versions(server: LocalServer, auth: tuple[str, str]) -> list[str]:
    page = server.get(
        "/local/simple/clustered/", auth=auth, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    assert page.status_code == 200, page.text
    versions: list[str] = page.json()["versions"]
    return versions


def test_an_upload_through_one_node_is_served_by_the_others_at_once(nodes: Callable[..., LocalServer]) -> None:
    first, second = nodes(), nodes()
    add_user(first, *ALICE)
    upload(first, make_wheel("clustered", "1.0"))
    assert _versions(second, ALICE) == ["1.0"]  # the second node renders the page, and keeps it

    upload(first, make_wheel("clustered", "2.0"))

    wait_until(lambda: _versions(second, ALICE) == ["1.0", "2.0"], "the second node serves the new release")


def test_a_token_revoked_on_one_node_is_refused_by_the_others(nodes: Callable[..., LocalServer]) -> None:
    first, second = nodes(), nodes()
    add_user(first, *ALICE)
    upload(first, make_wheel("clustered", "1.0"))
    token = ("__token__", create_token(first, "alice", scope="read"))
    assert _versions(second, token) == ["1.0"]  # verified once, then remembered by the second node

    first.registry.accounts.revoke_token(token_key(token[1]))
    first.registry.store.generations.bump(slot_of(*ACCOUNTS_SLOT))

    def refused() -> bool:
        response = second.get("/local/simple/clustered/", auth=token)
        return response.status_code in (401, 403)

    wait_until(refused, "the second node refuses the revoked token")


def test_a_password_changed_on_one_node_is_refused_by_the_others(nodes: Callable[..., LocalServer]) -> None:
    first, second = nodes(), nodes()
    add_user(first, *ALICE)
    upload(first, make_wheel("clustered", "1.0"))
    assert _versions(second, ALICE) == ["1.0"]

    first.registry.accounts.set_password("alice", "a-new-password")
    first.registry.store.generations.bump(slot_of(*ACCOUNTS_SLOT))

    wait_until(
        lambda: second.get("/local/simple/clustered/", auth=ALICE).status_code == 401, "the old password refused"
    )
    with httpx.Client() as client:
        fresh = client.get(second.url + "/local/simple/clustered/", auth=("alice", "a-new-password"))
    assert fresh.status_code == 200


def test_files_uploaded_through_one_node_are_downloaded_through_another(
    nodes: Callable[..., LocalServer], blob_store: str
) -> None:
    first, second = nodes(blob_store), nodes(blob_store)
    add_user(first, *ALICE)
    wheel, sdist = make_wheel("clustered", "1.0"), make_sdist("clustered", "1.0")
    upload(first, wheel, sdist)

    for dist in (wheel, sdist):
        response = second.get(f"/local/files/clustered/{dist.filename}", auth=ALICE)
        assert response.status_code == 200, response.text
        assert response.content == dist.data
    metadata = second.get(f"/local/files/clustered/{wheel.filename}.metadata", auth=ALICE)
    assert metadata.status_code == 200 and metadata.content == wheel.metadata
    # Streamed from the bucket as it arrived; then a copy of its own (it lands just after the last bytes went
    # out), sent from disk from then on.
    path = f"/local/files/clustered/{wheel.filename}"
    second.wait_for_access(path, cache="miss")
    wait_until(lambda: blob_path(second, wheel.sha256).exists(), "the second host keeps a copy")
    assert second.get(path, auth=ALICE).content == wheel.data
    second.wait_for_access(path, cache="hit")


def test_a_host_without_a_copy_answers_heads_ranges_and_304s_from_the_bucket_without_copying(
    nodes: Callable[..., LocalServer], blob_store: str
) -> None:
    first, second = nodes(blob_store), nodes(blob_store)
    add_user(first, *ALICE)
    wheel = make_wheel("clustered", "1.0", padding=300_000)
    upload(first, wheel)
    path, size, etag = f"/local/files/clustered/{wheel.filename}", len(wheel.data), f'"{wheel.sha256}"'

    head = second.head(path, auth=ALICE)
    assert head.status_code == 200, head.text
    assert (head.headers["content-length"], head.headers["etag"]) == (str(size), etag)
    assert head.headers["cache-control"] == "private, max-age=31536000, immutable"
    ranges = {
        "bytes=100-1099": (100, 1100),
        "bytes=-500": (size - 500, size),
        f"bytes={size - 10}-": (size - 10, size),
    }
    for asked, (start, end) in ranges.items():
        part = second.get(path, auth=ALICE, headers={"Range": asked})
        assert part.status_code == 206, part.text
        assert part.content == wheel.data[start:end]
        assert part.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
    assert second.get(path, auth=ALICE, headers={"Range": f"bytes={size}-"}).status_code == 416
    assert second.get(path, auth=ALICE, headers={"If-None-Match": etag}).status_code == 304
    assert not blob_path(second, wheel.sha256).exists(), "copied for an answer the bucket gave"

    # A range for other bytes than these (If-Range names another ETag) is the whole file: copied, as a GET is.
    whole = second.get(path, auth=ALICE, headers={"Range": "bytes=0-9", "If-Range": '"something-else"'})
    assert (whole.status_code, whole.content) == (200, wheel.data)
    wait_until(lambda: blob_path(second, wheel.sha256).exists(), "the second host keeps a copy")


def test_with_store_redirects_clients_fetch_stored_files_from_the_bucket_with_a_signed_url(
    nodes: Callable[..., LocalServer], blob_store: str
) -> None:
    public = '[index.open]\ntype = "hosted"\nupload = ["alice"]\n'
    first = nodes(blob_store, settings='store_redirects = "10m"\n', tables=public)
    second = nodes(blob_store, settings='store_redirects = "10m"\n', tables=public)
    add_user(first, *ALICE)
    wheel = make_wheel("clustered", "1.0")
    upload(first, wheel, index="open")
    upload(first, wheel, index="local")

    for node in (first, second):  # with a copy of its own, and without
        path = f"/open/files/clustered/{wheel.filename}"
        redirect = node.get(path)
        assert redirect.status_code == 302, redirect.text
        location = redirect.headers["location"]
        assert "X-Amz-Expires=600" in location and wheel.sha256 in location
        assert redirect.headers["cache-control"] == "no-store"
        assert httpx.get(location).content == wheel.data
        assert node.head(path).status_code == 200  # a signed GET cannot answer a HEAD
        assert node.get(path, headers={"If-None-Match": f'"{wheel.sha256}"'}).status_code == 304
        assert node.get(path + ".metadata").status_code == 200  # small: a redirect would cost more than it saves
    assert not blob_path(second, wheel.sha256).exists(), "copied for a redirect"
    for node in (first, second):
        # A signed URL for a private file would let anyone who sees it fetch the file for ten minutes: it is sent
        # (and the second host, which had no copy, keeps one).
        private = node.get(f"/local/files/clustered/{wheel.filename}", auth=ALICE)
        assert (private.status_code, private.content) == (200, wheel.data)

    short = nodes(blob_store, settings='store_redirects = "5m"\n', tables=public)
    private = short.get(f"/local/files/clustered/{wheel.filename}", auth=ALICE)
    assert private.status_code == 302 and "X-Amz-Expires=300" in private.headers["location"]
    assert short.get(f"/local/files/clustered/{wheel.filename}").status_code == 401  # still asked first


def test_a_damaged_object_is_never_served_whole_nor_kept(
    nodes: Callable[..., LocalServer], blob_store: str, tmp_path: Path
) -> None:
    first, second = nodes(blob_store), nodes(blob_store)
    add_user(first, *ALICE)
    wheel = make_wheel("clustered", "1.0", padding=500_000)
    upload(first, wheel)
    tampered = tmp_path / "tampered"
    tampered.write_bytes(b"x" + wheel.data[1:])
    first.registry.store.blobs.remote.put_file(wheel.sha256, tampered)

    try:
        response = second.get(f"/local/files/clustered/{wheel.filename}", auth=ALICE)
    except httpx.HTTPError:
        pass  # the transfer was broken off: what an installer must see
    else:
        assert response.status_code != 200 or response.content != tampered.read_bytes(), "sent whole"
    assert not blob_path(second, wheel.sha256).exists()
    wait_until(lambda: second.partial_files() == [], "nothing partial is left")


def test_a_file_one_node_fetched_from_the_upstream_is_not_fetched_again_by_another(
    nodes: Callable[..., LocalServer], blob_store: str, upstream: FakeUpstream
) -> None:
    wheel = make_wheel("proxied-clustered", "1.0")
    upstream.add(wheel)
    first = nodes(blob_store, upstream.url)
    second = nodes(blob_store, upstream.url)
    path = f"/pypi/files/proxied-clustered/{wheel.filename}"
    assert first.get(path, auth=ALICE).content == wheel.data
    wait_until_held(first, wheel.filename, wheel.sha256)
    fetched = upstream.count(f"/files/{wheel.filename}")
    assert fetched == 1

    assert second.get(path, auth=ALICE).content == wheel.data
    assert upstream.count(f"/files/{wheel.filename}") == fetched


def test_while_the_object_store_is_down_held_files_are_served_and_the_rest_refused_with_a_sentence(
    nodes: Callable[..., LocalServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3Server(tmp_path).start()  # of this test's own: it is stopped in the middle
    try:
        for name, value in store.environment().items():
            monkeypatch.setenv(name, value)
        blob_store = f"s3://{store.new_bucket()}/blobs"
        first, second = nodes(blob_store), nodes(blob_store)
        add_user(first, *ALICE)
        wheel = make_wheel("clustered", "1.0")
        upload(first, wheel)
    finally:
        store.stop()
    path = f"/local/files/clustered/{wheel.filename}"

    assert first.get(path, auth=ALICE).content == wheel.data  # this host's copy
    refused = second.get(path, auth=ALICE)
    assert refused.status_code == 503
    request_id = refused.headers["x-request-id"]
    assert (
        refused.text
        == f"the file store is unavailable right now; try again in a few seconds (request id {request_id})\n"
    )
    assert refused.headers["retry-after"] == "5"
    rejected = post_upload(first.url + "/local/", make_wheel("clustered", "2.0"), auth=ALICE)
    assert rejected.status_code == 503, rejected.text
    assert _versions(first, ALICE) == ["1.0"]  # nothing of the refused upload is listed
    assert store.environment()["AWS_SECRET_ACCESS_KEY"] not in first.log() + second.log()


def test_verify_replaces_a_damaged_copy_from_the_bucket_and_leaves_hosts_without_copies_alone(
    nodes: Callable[..., LocalServer], blob_store: str
) -> None:
    first, second = nodes(blob_store), nodes(blob_store)
    add_user(first, *ALICE)
    wheel = make_wheel("clustered", "1.0")
    upload(first, wheel)
    damaged = blob_path(first, wheel.sha256)
    damaged.write_bytes(b"x" + damaged.read_bytes()[1:])

    repaired = first.cli("verify", "--index", "local")
    unvisited = second.cli("verify", "--index", "local")

    assert repaired.returncode == 0, repaired.stderr
    assert f"this host's copy of {wheel.sha256} was corrupt; the object store's copy replaced it" in repaired.stderr
    assert damaged.read_bytes() == wheel.data
    assert unvisited.returncode == 0, unvisited.stderr
    assert not blob_path(second, wheel.sha256).exists()  # checked in the bucket, not copied to this host
    for host in (first, second):
        assert host.get(f"/local/files/clustered/{wheel.filename}", auth=ALICE).content == wheel.data


def test_hosts_asked_for_one_uncached_file_at_once_fetch_it_from_the_upstream_once(
    nodes: Callable[..., LocalServer], blob_store: str, upstream: FakeUpstream
) -> None:
    wheel = make_wheel("contended", "1.0", padding=300_000)
    upstream.add(wheel)
    first, second = nodes(blob_store, upstream.url), nodes(blob_store, upstream.url)
    for host in (first, second):
        assert host.get("/pypi/simple/contended/", auth=ALICE).status_code == 200
    upstream.fault(f"/files/{wheel.filename}", "drip:0.02")  # a transfer that lasts: the hosts' requests overlap
    path = f"/pypi/files/contended/{wheel.filename}"

    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda n: (first, second)[n % 2].get(path, auth=ALICE).content, range(8)))

    assert all(body == wheel.data for body in bodies)
    assert upstream.count(f"/files/{wheel.filename}") == 1


def test_failed_logins_on_one_node_count_on_the_others(nodes: Callable[..., LocalServer]) -> None:
    first, second = nodes(), nodes()
    add_user(first, *ALICE)
    with elsewhere() as client:  # a client address of this test's own
        for attempt in range(MAX_FAILURES):
            host = (first, second)[attempt % 2]
            assert client.get(host.url + "/local/simple/", auth=("alice", "wrong")).status_code == 401

        for host in (first, second):
            refused = client.get(host.url + "/local/simple/", auth=ALICE)
            assert refused.status_code == 429, refused.text


def test_gc_deletes_the_bucket_objects_nothing_refers_to_once_old_enough(
    nodes: Callable[..., LocalServer], blob_store: str
) -> None:
    host = nodes(blob_store)
    add_user(host, *ALICE)
    kept, dropped = make_wheel("collected", "1.0"), make_wheel("collected", "2.0")
    upload(host, kept, dropped)
    assert host.cli("delete", "local", "collected", "2.0").returncode == 0
    remote = host.registry.store.blobs.remote
    stored = {item.sha256 for item in remote.objects()}
    assert {kept.sha256, dropped.sha256} <= stored

    young = host.cli("gc")  # the default grace keeps what was just written
    assert young.returncode == 0, young.stderr
    assert dropped.sha256 in {item.sha256 for item in remote.objects()}

    done = host.cli("gc", "--grace", "0s")
    assert done.returncode == 0, done.stderr
    assert "unreferenced object(s) of the object store" in done.stdout
    left = {item.sha256 for item in remote.objects()}
    assert dropped.sha256 not in left
    assert kept.metadata is not None
    assert kept.sha256 in left and hashlib.sha256(kept.metadata).hexdigest() in left
    assert host.get(f"/local/files/collected/{kept.filename}", auth=ALICE).content == kept.data


def test_an_uploaded_provenance_is_served_by_a_host_without_its_copy(
    nodes: Callable[..., LocalServer], blob_store: str
) -> None:
    """The provenance object made of an upload's attestations is a blob like the file: another host brings it
    from the bucket when asked for it."""
    first, second = nodes(blob_store), nodes(blob_store)
    add_user(first, *ALICE)
    dist = ATTESTED / "gitlab_oidc_project-0.0.3.tar.gz"
    sent = (ATTESTED / f"{dist.name}.publish.attestation").read_text()
    form = Multipart.for_file(dist, attestations=f"[{sent}]", metadata_version=None)
    assert post_upload(f"{first.url}/local/", form, auth=ALICE).status_code == 200
    path = f"/local/integrity/gitlab-oidc-project/0.0.3/{dist.name}/provenance"
    held = first.get(path, auth=ALICE)
    assert held.status_code == 200, held.text

    served = second.get(path, auth=ALICE)
    assert served.status_code == 200, served.text
    assert served.content == held.content
    assert blob_path(second, hashlib.sha256(held.content).hexdigest()).exists(), "brought from the bucket"
