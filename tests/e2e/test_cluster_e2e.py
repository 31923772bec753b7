"""A cluster in real processes, configured as docs/deploy.md says: three `rennet serve` nodes with data directories
of their own on one PostgreSQL database (Debian's server, on loopback) and one bucket of an S3-protocol server
(moto's server mode, on loopback), behind nginx as the load balancer, with TLS.

The nodes' configuration file, the names of their environment variables and nginx's configuration are read from
docs/deploy.md (addresses, ports, bucket and certificate paths substituted), so the guide shows what is tested.
One cluster serves the whole module: its tests use project names of their own, and each test that stops a node or
the store leaves the cluster whole again."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import re
import signal
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support import nginx, tls
from tests.support.accounts import add_user, create_token, token_key
from tests.support.clients import Outcome, fetch_once
from tests.support.cluster import balancer_config, node_config, node_variables
from tests.support.dists import Dist, make_wheel
from tests.support.hosting import ALICE
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.postgres import PostgresServer
from tests.support.s3 import RestartableS3
from tests.support.server import RennetServer
from tests.support.store import wait_until
from tests.support.uploads import post_upload
from tests.support.upstream import FakeUpstream

NODES = 3
# The sentence of a 503 while the bucket cannot be used, followed (as every 5xx body) by the request's id.
STORE_DOWN = re.compile(
    r"the file store is unavailable right now; try again in a few seconds \(request id [\w.-]+\)\n"
)


def _store_down(status: int | None, body: str | bytes) -> bool:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return status == 503 and STORE_DOWN.fullmatch(text) is not None


@dataclass
class Cluster:
    nodes: list[RennetServer]
    url: str  # the load balancer: https://127.0.0.1:PORT
    authority: Path  # the certificate authority that signed nginx's certificate
    store: RestartableS3
    bucket: str
    upstream: FakeUpstream
    work: Path
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def trust(self) -> dict[str, str]:
        """What pip and uv need to trust the balancer's certificate (this machine names its own CA bundle in
        REQUESTS_CA_BUNDLE, which pip's requests prefers to --cert)."""
        return {"REQUESTS_CA_BUNDLE": str(self.authority), "SSL_CERT_FILE": str(self.authority)}

    def client(self, timeout: float = 60) -> httpx.Client:
        """A client that trusts the balancer's certificate (closed with the cluster)."""
        made = httpx.Client(verify=ssl.create_default_context(cafile=self.authority), timeout=timeout)
        self._clients.append(made)
        return made

    def directory(self, name: str) -> Path:
        """A new directory for one install, one cache or one log of a test."""
        path = self.work / name
        path.mkdir(parents=True)
        return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("cluster")
    with contextlib.ExitStack() as stack:
        upstream = FakeUpstream().start()
        stack.callback(upstream.stop)
        store = RestartableS3(work).start()
        stack.callback(store.stop)
        bucket = store.new_bucket()
        # An empty database: the three nodes start together and migrate it, one at a time (an advisory lock).
        database = postgres_server.create_database()
        stack.callback(postgres_server.drop_database, database.rsplit("/", 1)[1])
        assert node_variables() == {
            "RENNET_CONFIG",  # RennetServer passes --config (and RENNET_CONFIG to the commands)
            "RENNET_DATABASE_URL",  # database_url
            *(name for name in store.environment() if name != "AWS_EC2_METADATA_DISABLED"),
        }
        nodes = [
            RennetServer(
                work / f"node-{number}",
                upstream_url=upstream.url,
                config=node_config(bucket),
                database_url=database,
                env=store.environment(),
            )
            for number in range(NODES)
        ]
        stack.callback(_stop_all, nodes)
        with ThreadPoolExecutor(NODES + 1) as pool:  # the nodes together, and the balancer's certificate beside
            certificates = pool.submit(tls.certificate, work)
            for started in [pool.submit(node.start) for node in nodes]:
                started.result(180)
            authority, certificate, key = certificates.result(180)
        for node in nodes:
            _wait_until_ready(node)
        add_user(nodes[0], *ALICE)
        balancer = balancer_config([node.port for node in nodes], certificate, key)
        port = stack.enter_context(nginx.running(balancer, work / "nginx"))
        made = Cluster(nodes, f"https://127.0.0.1:{port}", authority, store, bucket, upstream, work)
        yield made
        for client in made._clients:
            client.close()


def _stop_all(nodes: list[RennetServer]) -> None:
    with ThreadPoolExecutor(len(nodes)) as pool:
        for stopped in [pool.submit(node.stop) for node in nodes]:
            stopped.result(180)


# -- looking at what the cluster holds ------------------------------------------------------------------------


def _ready(node: RennetServer) -> bool:
    try:
        return httpx.get(node.url + "/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until_ready(node: RennetServer) -> None:
    wait_until(lambda: _ready(node), f"node {node.port} answers /ready with 200", timeout=60)


def _bucket_objects(cluster: Cluster) -> dict[str, bytes]:
    """Every object of the bucket, each checked: its key (under the configured prefix) is its bytes' sha256."""
    objects = cluster.store.objects(cluster.bucket)
    for key, data in objects.items():
        assert re.fullmatch(r"rennet/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}", key), key
        assert hashlib.sha256(data).hexdigest() == key.rsplit("/", 1)[1], f"object {key} is not what it names"
    return objects


def _blobs_verify(node: RennetServer) -> set[str]:
    """The node's copies, each checked against its name."""
    names = set()
    for path in (node.data_dir / "blobs").rglob("*"):
        if path.is_file():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, f"{path} is not what it names"
            names.add(path.name)
    return names


def _served(node: RennetServer) -> int:
    """How many requests the node has answered, its health checks aside (its log spans its restarts)."""
    return sum(1 for line in node.access_lines() if line.path not in ("/health", "/ready"))


def _serves_beyond(node: RennetServer, count: int) -> bool:
    return _served(node) > count


def _in_the_bucket_first(node: RennetServer, objects: dict[str, bytes]) -> None:
    """Every copy the node holds is whole, and in the bucket: a file goes to the bucket before a node keeps it."""
    for sha256 in _blobs_verify(node):
        assert _key(sha256) in objects, f"node {node.port} holds {sha256}, which the bucket lacks"


def _holds(node: RennetServer, sha256: str) -> bool:
    return sha256 in _blobs_verify(node)


def _key(sha256: str) -> str:
    return f"rennet/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def _upload(url: str, dist: Dist, client: httpx.Client | None = None, auth: tuple[str, str] = ALICE) -> None:
    response = post_upload(url + "/local/", dist, auth=auth, client=client)
    assert response.status_code == 200, response.text


# -- the tests --------------------------------------------------------------------------------------------------


def test_nodes_started_together_on_an_empty_database_migrate_it_and_all_serve(cluster: Cluster) -> None:
    from rennet.storage.database import SCHEMA_HEAD
    from tests.support.store import query

    assert query(cluster.nodes[0], "SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]
    for node in cluster.nodes:
        assert _ready(node)
    with cluster.client() as client:
        assert client.get(cluster.url + "/ready").text == "ready\n"


def test_pip_and_uv_install_through_the_balancer(cluster: Cluster) -> None:
    cluster.upstream.add(make_wheel("balanced-dep", "1.0"))
    app = make_wheel("balanced-app", "1.0", requires=("balanced-dep",))
    client = cluster.client()
    _upload(cluster.url, app, client)

    home = client.get(cluster.url + "/")
    assert f"{cluster.url}/simple/" in home.text  # https: each node believes the balancer's X-Forwarded-Proto
    pip = pip_install(
        cluster.url + "/simple/", "balanced-app", target=cluster.directory("pip-balanced"), env=cluster.trust
    )
    assert pip.returncode == 0, pip.stderr
    uv = uv_install(
        cluster.url + "/simple/",
        "balanced-app",
        target=cluster.directory("uv-balanced"),
        cache_dir=cluster.directory("uv-balanced-cache"),
        env=cluster.trust,
    )
    assert uv.returncode == 0, uv.stderr
    for target in ("pip-balanced", "uv-balanced"):
        assert installed_version(cluster.work / target, "balanced_app") == "1.0"
        assert installed_version(cluster.work / target, "balanced_dep") == "1.0"

    def every_node_served() -> bool:
        return all(any("balanced" in line.path for line in node.access_lines()) for node in cluster.nodes)

    wait_until(every_node_served, "every node served part of the installs")  # access lines are written in batches


def test_an_upload_through_one_node_installs_through_another_at_once(cluster: Cluster) -> None:
    first, second = cluster.nodes[0], cluster.nodes[1]
    _upload(first.url, make_wheel("handed-over", "1.0"))

    # At once: the upload is committed to the catalog and its file is in the bucket before the uploader hears 200.
    pip = pip_install(second.url + "/simple/", "handed-over", target=cluster.directory("pip-handed-over"))
    assert pip.returncode == 0, pip.stderr + second.log()[-3000:]
    assert installed_version(cluster.work / "pip-handed-over", "handed_over") == "1.0"

    # A release added to a page the second node has cached: the second node hears of it (NOTIFY) within
    # milliseconds; the bound only ends the test if it never does.
    _upload(first.url, make_wheel("handed-over", "2.0"))
    wait_until(lambda: "handed_over-2.0-" in second.get("/simple/handed-over/").text, "the second node lists 2.0", 10)
    uv = uv_install(
        second.url + "/simple/",
        "handed-over==2.0",
        target=cluster.directory("uv-handed-over"),
        cache_dir=cluster.directory("uv-handed-over-cache"),
    )
    assert uv.returncode == 0, uv.stderr
    assert installed_version(cluster.work / "uv-handed-over", "handed_over") == "2.0"


def test_a_token_revoked_on_one_node_is_refused_by_every_node(cluster: Cluster) -> None:
    token = ("__token__", create_token(cluster.nodes[0], "alice", index="local", scope="upload"))
    probe = make_wheel("revoked-probe", "1.0")
    for node in cluster.nodes:  # each node verifies the token once, and remembers it (for up to a minute)
        _upload(node.url, probe, auth=token)  # the same file again is accepted: 200

    revoked = cluster.nodes[0].cli("token", "revoke", token_key(token[1]))
    assert revoked.returncode == 0, revoked.stderr

    def refused_everywhere() -> bool:
        statuses = [post_upload(node.url + "/local/", probe, auth=token).status_code for node in cluster.nodes]
        assert set(statuses) <= {200, 401, 403}, statuses
        return all(status in (401, 403) for status in statuses)

    # rennet's promise is "at once" (NOTIFY, within milliseconds; a node that missed it compares the counters
    # every 5 s). The bound, one second, is the issue's; it is what the test allows, not a measurement.
    wait_until(refused_everywhere, "every node refuses the revoked token", timeout=1.0)


def test_concurrent_first_requests_for_one_file_on_every_node(cluster: Cluster) -> None:
    wheel = make_wheel("stampede", "1.0", padding=512 << 10)
    cluster.upstream.add(wheel)
    cluster.upstream.fault(f"/files/{wheel.filename}", "drip:0.005")  # long enough for the requests to overlap
    path = f"/pypi/files/stampede/{wheel.filename}"

    async def everyone() -> list[Outcome]:
        async def one(url: str) -> Outcome:
            async with httpx.AsyncClient(timeout=120) as client:
                try:
                    response = await client.get(url)
                except httpx.HTTPError as error:
                    return Outcome(None, b"", f"{type(error).__name__}: {error}")
                return Outcome(response.status_code, response.content)

        return await asyncio.gather(*(one(node.url + path) for node in cluster.nodes for _ in range(8)))

    outcomes = asyncio.run(everyone())
    cluster.upstream.fault(f"/files/{wheel.filename}", None)

    assert all(o.status == 200 and o.body == wheel.data for o in outcomes), [(o.status, o.error) for o in outcomes]
    # One upstream transfer for the whole cluster: within a node its workers share one download; across nodes the
    # first takes the file's lease in PostgreSQL, and the others wait for it and stream the stored file from the
    # bucket. (The issue allowed up to one per node, when the lease did not exist yet.)
    assert cluster.upstream.count(f"/files/{wheel.filename}") == 1
    wait_until(lambda: _key(wheel.sha256) in _bucket_objects(cluster), "the file is in the bucket")
    for node in cluster.nodes:
        wait_until(functools.partial(_holds, node, wheel.sha256), f"node {node.port} holds the file")


def test_a_node_killed_during_a_download_leaves_nothing_partial_and_the_retry_succeeds(cluster: Cluster) -> None:
    wheel = make_wheel("cut-short", "1.0", padding=256 << 10)
    cluster.upstream.add(wheel)
    cluster.upstream.fault(f"/files/{wheel.filename}", "stall")  # half the file, then nothing until cleared
    url = f"{cluster.url}/pypi/files/cut-short/{wheel.filename}"
    received = bytearray()
    statuses: list[int] = []
    cut: list[str] = []
    arriving = threading.Event()

    def download() -> None:
        with cluster.client(timeout=120) as client, client.stream("GET", url) as response:
            statuses.append(response.status_code)
            try:
                for piece in response.iter_bytes():
                    received.extend(piece)
                    arriving.set()
            except httpx.HTTPError as error:
                cut.append(f"{type(error).__name__}: {error}")

    before = {node.port: set(node.partial_files()) for node in cluster.nodes}
    downloading = threading.Thread(target=download)
    downloading.start()
    try:
        # Once the client has bytes, nginx can no longer take the request to another node: the cut is the client's.
        assert arriving.wait(60), "the download never began"
        victims = [node for node in cluster.nodes if set(node.partial_files()) - before[node.port]]
        assert len(victims) == 1, victims
        victim = victims[0]
        victim.kill()
    finally:
        cluster.upstream.fault(f"/files/{wheel.filename}", None)
        downloading.join(120)
    assert not downloading.is_alive()
    assert statuses == [200]
    assert cut and len(received) < len(wheel.data), (cut, len(received))  # the client saw its transfer fail

    assert wheel.sha256 not in _blobs_verify(victim)

    # The client tries again through the balancer. The killed node held the file's transfer lease: the node that
    # takes the retry waits until the lease expires (up to 12 s), then fetches the file itself. Meanwhile the
    # killed node is started again, as systemd's Restart= would.
    with ThreadPoolExecutor(1) as retrying:
        retry = retrying.submit(lambda: cluster.client(timeout=120).get(url))
        victim.start()  # clears what its killed processes left in tmp/
        _wait_until_ready(victim)
        assert victim.partial_files() == []
        retried = retry.result(180)
    assert retried.status_code == 200 and retried.content == wheel.data

    wait_until(lambda: _key(wheel.sha256) in _bucket_objects(cluster), "the retried file is in the bucket")
    objects = _bucket_objects(cluster)
    for node in cluster.nodes:
        _in_the_bucket_first(node, objects)  # and every copy on every node is whole
    again = victim.get(f"/pypi/files/cut-short/{wheel.filename}")
    assert again.status_code == 200 and again.content == wheel.data


@dataclass
class _Installs:
    """Installs through the balancer, one after another in a thread, until told to stop."""

    cluster: Cluster
    tool: str
    results: list[tuple[int, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> _Installs:
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        return self

    def _run(self) -> None:
        for number in range(10_000):  # bounded; the test stops it long before
            if self.stop.is_set():
                return
            target = self.cluster.directory(f"{self.tool}-rolling-{number}")
            # No retries of the installers' own: every request must succeed through the balancer the first time.
            if self.tool == "pip":
                done = pip_install(
                    self.cluster.url + "/simple/",
                    "rolling-app",
                    target=target,
                    args=("--retries", "0"),
                    env=self.cluster.trust,
                )
            else:
                done = uv_install(
                    self.cluster.url + "/simple/",
                    "rolling-app",
                    target=target,
                    cache_dir=self.cluster.directory(f"uv-rolling-cache-{number}"),
                    env=self.cluster.trust | {"UV_HTTP_RETRIES": "0"},
                )
            ok = done.returncode == 0 and installed_version(target, "rolling_dep") == "1.0"
            self.results.append((0 if ok else done.returncode or 1, done.stderr[-2000:]))

    def finish(self) -> None:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(300)
        assert not self.thread.is_alive()


def test_a_rolling_restart_while_installs_run(cluster: Cluster) -> None:
    cluster.upstream.add(make_wheel("rolling-dep", "1.0"))
    with cluster.client() as client:
        _upload(cluster.url, make_wheel("rolling-app", "1.0", requires=("rolling-dep",)), client)
    installs = [_Installs(cluster, "uv").start(), _Installs(cluster, "pip").start()]
    try:
        wait_until(lambda: all(i.results for i in installs), "installs run through the balancer", 120)
        for node in cluster.nodes:
            # What `systemctl restart` does: SIGTERM (requests under way finish), then a new process.
            assert node.process is not None
            node.process.send_signal(signal.SIGTERM)
            assert node.process.wait(60) == 0, node.log()[-3000:]
            served = _served(node)
            node.start()
            _wait_until_ready(node)
            # nginx marked the node failed when it refused a connection, and takes it back only fail_timeout after
            # that: the next node may stop only once this one serves again, or nginx would find none left
            # (docs/deploy.md's rolling upgrade waits for the same reason).
            wait_until(functools.partial(_serves_beyond, node, served), "the balancer uses the node again", 60)
        counts = [len(i.results) for i in installs]
        wait_until(
            lambda: all(len(i.results) > n for i, n in zip(installs, counts, strict=True)), "installs go on", 120
        )
    finally:
        for each in installs:
            each.finish()
    failed = [result for each in installs for result in each.results if result[0] != 0]
    assert not failed, "\n\n".join(f"exit {code}:\n{stderr}" for code, stderr in failed)
    assert sum(len(i.results) for i in installs) >= 4


@dataclass
class _Load:
    """Downloads and uploads against every node and the balancer, from a few threads, until told to stop; every
    answer is kept."""

    cluster: Cluster
    files: dict[str, Dist]  # path below a node's URL -> what it must send
    answers: list[tuple[str, str, Outcome]] = field(default_factory=list)  # (kind, where, outcome)
    uploaded: list[tuple[Dist, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, threads: int = 4) -> _Load:
        for number in range(threads):
            thread = threading.Thread(target=self._run, args=(number,))
            thread.start()
            self.threads.append(thread)
        return self

    def _run(self, number: int) -> None:
        bases = [node.url for node in self.cluster.nodes] + [self.cluster.url]
        paths = sorted(self.files)
        with self.cluster.client(timeout=120) as client:
            for step in range(10_000):  # bounded; the test stops it long before
                if self.stop.is_set():
                    return
                base = bases[(number + step) % len(bases)]
                if step % 4 == 3:
                    dist = make_wheel(f"weathered-upload-{number}-{step}", "1.0")
                    try:
                        response = post_upload(base + "/local/", dist, auth=ALICE, client=client)
                    except httpx.HTTPError as error:
                        self.answers.append(("upload", base, Outcome(None, b"", repr(error))))
                        continue
                    self.answers.append(("upload", base, Outcome(response.status_code, response.content)))
                    self.uploaded.append((dist, response.status_code))
                    continue
                path = paths[(number * 7 + step) % len(paths)]
                try:
                    got = client.get(base + path)
                    self.answers.append((path, base, Outcome(got.status_code, got.content)))
                except httpx.HTTPError as error:
                    self.answers.append((path, base, Outcome(None, b"", repr(error))))

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(300)
            assert not thread.is_alive()

    def count(self) -> int:
        return len(self.answers)


def test_the_bucket_stopped_and_started_under_load(cluster: Cluster) -> None:
    first, second, third = cluster.nodes
    hosted = [make_wheel(f"weathered-{n}", "1.0") for n in range(3)]
    aside = make_wheel("weathered-aside", "1.0")  # not in the load: only the first node holds a copy of it
    for dist in [*hosted, aside]:
        _upload(first.url, dist)  # the first node holds a copy of each; the others none yet
    assert second.get(f"/local/files/weathered-0/{hosted[0].filename}").content == hosted[0].data
    proxied = make_wheel("weathered-proxied", "1.0", padding=64 << 10)
    unfetched = make_wheel("weathered-unfetched", "1.0", padding=64 << 10)  # asked for during the outage only
    cluster.upstream.add(proxied, unfetched)
    files = {f"/local/files/{d.project}/{d.filename}": d for d in hosted}
    files[f"/pypi/files/weathered-proxied/{proxied.filename}"] = proxied

    load = _Load(cluster, files).start()
    try:
        wait_until(lambda: load.count() >= 8, "the load runs", 60)
        cluster.store.stop()
        outage_began = load.count()

        # What is certain while the store is down: a node sends the copies it holds, and refuses with a sentence
        # what it would have to take from the store, and uploads.
        held = first.get(f"/local/files/weathered-aside/{aside.filename}")
        assert held.status_code == 200 and held.content == aside.data
        missing = third.get(f"/local/files/weathered-aside/{aside.filename}")
        assert _store_down(missing.status_code, missing.text), (missing.status_code, missing.text)
        assert missing.headers["retry-after"] == "5"
        refused = post_upload(second.url + "/local/", make_wheel("weathered-refused", "1.0"), auth=ALICE)
        assert _store_down(refused.status_code, refused.text), (refused.status_code, refused.text)
        # A file no node holds yet, from the upstream: its bytes can be sent, but not kept (the bucket comes first).
        fetched = fetch_once(f"{second.url}/pypi/files/weathered-unfetched/{unfetched.filename}")
        assert fetched.error is None, fetched.error
        assert (fetched.status, fetched.body) == (200, unfetched.data) or _store_down(fetched.status, fetched.body)

        wait_until(lambda: load.count() >= outage_began + 8, "the load meets the outage", 60)
        cluster.store.start()
        back = load.count()
        wait_until(lambda: load.count() >= back + 12, "the load goes on after the outage", 60)
    finally:
        load.finish()
        if not cluster.store.running:
            cluster.store.start()

    unexpected = []
    for kind, where, outcome in load.answers:
        expected = b"" if kind == "upload" else files[kind].data
        fine = outcome.error is None and (
            (outcome.status == 200 and (kind == "upload" or outcome.body == expected))
            or _store_down(outcome.status, outcome.body)
        )
        if not fine:
            unexpected.append((kind, where, outcome.status, outcome.error, outcome.body[:200]))
    assert not unexpected, unexpected
    assert any(outcome.status == 503 for _, _, outcome in load.answers)  # the load did meet the outage

    # Nothing lost: every upload answered 200 installs from every node; none answered 503 is listed anywhere.
    for dist, status in [*load.uploaded, (make_wheel("weathered-refused", "1.0"), 503)]:
        for node in cluster.nodes:
            got = node.get(f"/local/files/{dist.project}/{dist.filename}")
            if status == 200:
                assert got.status_code == 200 and got.content == dist.data, (dist.filename, node.port, got.text)
            else:
                assert got.status_code == 404, (dist.filename, node.port, got.status_code)
                assert node.get(f"/local/simple/{dist.project}/").status_code == 404
    everything = [*files.items(), (f"/local/files/weathered-aside/{aside.filename}", aside)]
    for path, dist in [*everything, (f"/pypi/files/weathered-unfetched/{unfetched.filename}", unfetched)]:
        for node in cluster.nodes:
            got = node.get(path)
            assert got.status_code == 200 and got.content == dist.data, (path, node.port, got.text)
    objects = _bucket_objects(cluster)
    for dist, status in load.uploaded:
        # A refused upload may have left its object (the stop cut the answer of a PUT that completed): harmless,
        # as every object is named by its bytes.
        assert status != 200 or _key(dist.sha256) in objects, dist.filename
    for node in cluster.nodes:
        _in_the_bucket_first(node, objects)
        assert cluster.store.environment()["AWS_SECRET_ACCESS_KEY"] not in node.log()
