"""Real `rennet serve` processes on one PostgreSQL catalog and one S3-protocol bucket: what is uploaded through one
installs through another, and a bucket that cannot be used stops a server from starting, with a sentence."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.accounts import add_user
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE, UPLOADS, upload
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.postgres import PostgresServer
from tests.support.s3 import S3Server
from tests.support.server import RennetServer
from tests.support.store import wait_until
from tests.support.upstream import NOWHERE, _free_port


def test_a_wheel_uploaded_through_one_host_installs_through_another(
    tmp_path: Path, postgres_server: PostgresServer, s3_server: S3Server
) -> None:
    config = f'blob_store = "s3://{s3_server.new_bucket()}/blobs"\n' + UPLOADS
    catalog = postgres_server.create_database()
    hosts = [
        RennetServer(
            tmp_path / name, upstream_url=NOWHERE, config=config, database_url=catalog, env=s3_server.environment()
        )
        for name in ("first", "second")
    ]
    for host in hosts:
        host.start()
    try:
        add_user(hosts[0], *ALICE)
        upload(hosts[0], make_wheel("shared-thing", "1.0"))

        installed = pip_install(hosts[1].url + "/local/simple/", "shared-thing", target=tmp_path / "target")

        assert installed.returncode == 0, installed.stderr + hosts[1].log()
        assert installed_version(tmp_path / "target", "shared_thing") == "1.0"
    finally:
        for host in hosts:
            host.stop()


def test_pip_and_uv_follow_a_redirect_to_the_bucket(
    tmp_path: Path, postgres_server: PostgresServer, s3_server: S3Server
) -> None:
    config = f'blob_store = "s3://{s3_server.new_bucket()}/blobs"\nstore_redirects = "2m"\n' + UPLOADS
    host = RennetServer(
        tmp_path / "data",
        upstream_url=NOWHERE,
        config=config,
        database_url=postgres_server.create_database(),
        env=s3_server.environment(),
    ).start()
    try:
        add_user(host, *ALICE)
        wheel = make_wheel("signed-thing", "1.0")
        upload(host, wheel)
        index = host.url + "/local/simple/"

        installed = {
            "pip": pip_install(index, "signed-thing", target=tmp_path / "pip"),
            "uv": uv_install(index, "signed-thing", target=tmp_path / "uv", cache_dir=tmp_path / "uv-cache"),
        }

        for name, result in installed.items():
            assert result.returncode == 0, result.stderr + host.log()
            assert installed_version(tmp_path / name, "signed_thing") == "1.0"

        def redirects() -> list[int]:
            return [a.status for a in host.access_lines() if a.path.endswith(wheel.filename) and a.method == "GET"]

        wait_until(lambda: len(redirects()) == 2, "both installers' downloads are logged")
        assert redirects() == [302, 302]
    finally:
        host.stop()


def test_a_bucket_that_cannot_be_used_stops_the_server_from_starting(tmp_path: Path, s3_server: S3Server) -> None:
    unreachable = dict(s3_server.environment(), AWS_ENDPOINT_URL=f"http://127.0.0.1:{_free_port()}")
    cases = [
        ("s3://no-such-bucket/blobs", s3_server.environment(), "the bucket 'no-such-bucket' does not exist"),
        (f"s3://{s3_server.new_bucket()}", unreachable, "cannot be reached"),
    ]
    for number, (url, environment, reason) in enumerate(cases):
        server = RennetServer(tmp_path / f"data-{number}", upstream_url=NOWHERE, env=environment)
        server.config = f'blob_store = "{url}"\n'
        result = subprocess.run(
            server.command(), capture_output=True, text=True, timeout=60, env=server.environment()
        )
        assert result.returncode == 2, result.stderr
        assert f"rennet: cannot use the object store {url}: " in result.stderr
        assert reason in result.stderr
        assert "Traceback" not in result.stderr
        assert environment["AWS_SECRET_ACCESS_KEY"] not in result.stderr
