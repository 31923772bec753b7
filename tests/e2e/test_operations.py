"""Running `rennet serve` as a process: graceful shutdown on a signal mid-download, several workers (ready at
once, one download shared, one failure shared), and refusing to start (an unusable data directory, a busy port).
Health, readiness and the access log in-process: tests/web/test_operations.py."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from tests.support.clients import fetch_concurrently
from tests.support.databases import Database
from tests.support.dists import make_sdist, make_wheel
from tests.support.server import RennetServer
from tests.support.upstream import FakeUpstream

Factory = Callable[..., RennetServer]


def assert_blobs_verified(server: RennetServer) -> None:
    """Every file in the blob store is complete: its name is the sha256 of its bytes."""
    for path in (server.data_dir / "blobs").rglob("*"):
        if path.is_file():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, f"partial or wrong blob {path}"


def test_every_worker_is_ready_at_once(process_factory: Factory, upstream: FakeUpstream) -> None:
    """Load balancers probe every worker, often at the same moment: probes must not trip over each other."""
    server = process_factory(upstream_url=upstream.url, workers=2)
    assert len(server.worker_pids()) == 2
    outcomes = fetch_concurrently(f"{server.url}/ready", 100)
    assert [o.status for o in outcomes] == [200] * 100, {o.body for o in outcomes}
    assert not server.partial_files() and not list((server.data_dir / "tmp").glob(".ready*"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_mid_download_leaves_no_partial_file(
    upstream: FakeUpstream, process_factory: Factory, sig: signal.Signals
) -> None:
    # The grace period lets open requests finish; this upstream stalls forever, so it runs out.
    server = process_factory(upstream_url=upstream.url, env={"RENNET_SHUTDOWN_TIMEOUT": "1s"})
    wheel = make_wheel("interrupted", "1.0", padding=2_000_000)
    upstream.add(wheel)
    upstream.fault(f"/files/{wheel.filename}", "stall")
    received: list[bytes] = []
    failure: list[str] = []
    first_bytes = threading.Event()

    def client() -> None:
        try:
            with httpx.stream("GET", f"{server.url}/pypi/files/interrupted/{wheel.filename}", timeout=30) as r:
                for chunk in r.iter_raw():
                    received.append(chunk)
                    first_bytes.set()
        except httpx.HTTPError as error:
            failure.append(type(error).__name__)
        finally:
            first_bytes.set()

    thread = threading.Thread(target=client)
    thread.start()
    try:
        assert first_bytes.wait(30)
        assert server.partial_files(), "the download is under way in tmp/"
        assert server.process is not None
        server.process.send_signal(sig)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"rennet did not stop on {sig.name} during a download:\n{server.log()[-2000:]}")
    finally:
        upstream.fault(f"/files/{wheel.filename}", None)
        thread.join(30)
    assert b"".join(received) != wheel.data
    assert failure, "the client is told its transfer was cut short"
    assert wheel.sha256 not in server.blobs()
    assert_blobs_verified(server)

    server.start()
    assert not server.partial_files(), "a new start clears what a previous run left in tmp/"
    again = server.get(f"/pypi/files/interrupted/{wheel.filename}")
    assert again.content == wheel.data
    assert_blobs_verified(server)


@pytest.fixture(scope="module")
def two_workers(
    module_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory, database: Database
) -> Iterator[RennetServer]:
    """A server of two workers for the module's tests; its upstream is module_upstream (one per catalog, as the
    server is: the tests count its requests)."""
    with database.server_catalog() as url:
        server = RennetServer(
            tmp_path_factory.mktemp("workers") / "data", upstream_url=module_upstream.url, workers=2, database_url=url
        )
        yield server.start()
        server.stop()


def test_two_workers_serve(module_upstream: FakeUpstream, two_workers: RennetServer) -> None:
    upstream = module_upstream
    sdist = make_sdist("shared", "1.0")
    upstream.add(sdist)
    pids = set()
    for _ in range(20):
        assert two_workers.get("/simple/shared/").status_code == 200
        assert two_workers.get(f"/pypi/files/shared/{sdist.filename}").content == sdist.data
    for line in two_workers.log().splitlines():
        if "Spawning worker" in line:
            pids.add(line.rsplit(" ", 1)[-1])
    assert len(pids) == 2
    assert upstream.count(f"/files/{sdist.filename}") == 1


@pytest.mark.parametrize(("padding", "fault"), [(0, None), (1_500_000, "drip:0.002")])
def test_two_workers_download_once(
    module_upstream: FakeUpstream, two_workers: RennetServer, padding: int, fault: str | None
) -> None:
    upstream = module_upstream
    wheel = make_wheel(f"crossing{padding}", "1.0", padding=padding)
    upstream.add(wheel)
    assert two_workers.get(f"/simple/{wheel.project}/").status_code == 200  # each worker reads the catalog
    if fault:
        upstream.fault(f"/files/{wheel.filename}", fault)
    try:
        outcomes = fetch_concurrently(f"{two_workers.url}/pypi/files/{wheel.project}/{wheel.filename}", 50)
    finally:
        upstream.fault(f"/files/{wheel.filename}", None)
    problems = [(o.status, len(o.body), o.error) for o in outcomes if o.status != 200 or o.body != wheel.data]
    assert not problems, problems[:5]
    assert upstream.count(f"/files/{wheel.filename}") == 1
    assert_blobs_verified(two_workers)


def test_two_workers_share_a_failure(module_upstream: FakeUpstream, two_workers: RennetServer) -> None:
    upstream = module_upstream
    wheel = make_wheel("crossing-broken", "1.0", padding=1_000_000)
    upstream.add(wheel)
    assert two_workers.get(f"/simple/{wheel.project}/").status_code == 200
    upstream.fault(f"/files/{wheel.filename}", "wrong-bytes")
    try:
        outcomes = fetch_concurrently(f"{two_workers.url}/pypi/files/{wheel.project}/{wheel.filename}", 30)
    finally:
        upstream.fault(f"/files/{wheel.filename}", None)
    assert all(o.status != 200 or o.error is not None for o in outcomes), [(o.status, o.error) for o in outcomes]
    assert wheel.sha256 not in two_workers.blobs()
    assert_blobs_verified(two_workers)
    assert two_workers.get(f"/pypi/files/{wheel.project}/{wheel.filename}").content == wheel.data


def test_data_dir_that_cannot_be_used(tmp_path: Path, upstream: FakeUpstream) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    server = RennetServer(blocker / "data", upstream_url=upstream.url)
    result = subprocess.run(server.command(), capture_output=True, text=True, timeout=30, env=server.environment())
    assert result.returncode == 2, result.stderr
    assert f"cannot use data directory {blocker / 'data'}" in result.stderr
    assert "Not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_already_in_use_is_refused(
    tmp_path: Path, upstream: FakeUpstream, process_factory: Factory, database: Database
) -> None:
    first = process_factory(upstream_url=upstream.url)
    # A database never migrated (not one of the tests' ready-made catalogs): the refused server must leave it so.
    empty = database.postgres.create_database() if database.postgres is not None else None
    second = RennetServer(tmp_path / "second", upstream_url=upstream.url, database_url=empty)
    second.port = first.port
    result = subprocess.run(second.command(), capture_output=True, text=True, timeout=30, env=second.environment())
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{first.port}" in result.stderr
    assert "in use" in result.stderr
    assert not (tmp_path / "second").exists(), "nothing is prepared for a server that cannot start"
    if second.database_url is not None:
        assert _tables(second.database_url) == [], "nor is its database migrated"
    assert first.get("/health").status_code == 200


def _tables(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()
