"""`rennet db migrate-store`: a single host's SQLite catalog and blobs copied into PostgreSQL and a bucket, which a
new host (an empty data directory) then serves whole: hosted and proxied files, users, tokens; run again, it
resumes without duplicating anything."""

from __future__ import annotations

from pathlib import Path

from tests.support.accounts import add_user, create_token
from tests.support.databases import Database
from tests.support.dists import make_sdist, make_wheel
from tests.support.hosting import ALICE, UPLOADS, upload
from tests.support.postgres import PostgresServer
from tests.support.server import LocalServer
from tests.support.store import wait_until_held
from tests.support.upstream import NOWHERE, FakeUpstream


def test_a_single_host_moves_to_postgresql_and_a_bucket(
    tmp_path: Path, postgres_server: PostgresServer, blob_store: str, upstream: FakeUpstream
) -> None:
    hosted, sdist, proxied = make_wheel("moving", "1.0"), make_sdist("moving", "1.0"), make_wheel("fetched", "2.0")
    upstream.add(proxied)
    single = LocalServer(tmp_path / "single", upstream_url=upstream.url, config=UPLOADS).start()
    try:
        add_user(single, *ALICE)
        upload(single, hosted, sdist)
        token = create_token(single, "alice", scope="read")
        assert single.get(f"/pypi/files/fetched/{proxied.filename}").content == proxied.data
        wait_until_held(single, proxied.filename, proxied.sha256)
    finally:
        single.stop()
    upstream.stop()

    with Database("psycopg", postgres_server).empty_catalog(tmp_path) as url:
        for _ in range(2):  # the second run finds everything copied, and duplicates nothing
            moved = single.cli("db", "migrate-store", "--database", url, "--blob-store", blob_store)
            assert moved.returncode == 0, moved.stderr
            assert "catalog: 1 projects" not in moved.stdout  # two projects: moving and fetched
            assert "catalog: 2 projects, 2 versions, 3 files" in moved.stdout, moved.stdout
            assert f"files: 4 in {blob_store}" in moved.stdout  # three files and the wheel's metadata
            assert url not in moved.stdout + moved.stderr

        config = f'blob_store = "{blob_store}"\n' + UPLOADS
        host = LocalServer(tmp_path / "new-host", upstream_url=NOWHERE, config=config, database_url=url).start()
        try:
            for dist in (hosted, sdist):
                assert host.get(f"/local/files/moving/{dist.filename}").content == dist.data
            assert host.get(f"/pypi/files/fetched/{proxied.filename}").content == proxied.data  # upstream gone
            assert host.get("/simple/moving/", auth=ALICE).status_code == 200
            assert host.get("/simple/moving/", auth=("__token__", token)).status_code == 200
            upload(host, make_wheel("moving", "2.0"))  # new rows take ids after the copied ones
            assert list(host.get("/local/pypi/moving/json").json()["releases"]) == ["1.0", "2.0"]
        finally:
            host.stop()


def test_the_command_says_what_it_needs(tmp_path: Path) -> None:
    single = LocalServer(tmp_path / "single", upstream_url=NOWHERE).start()
    single.stop()
    nothing = single.cli("db", "migrate-store")
    assert nothing.returncode == 2
    assert "name where to copy to: --database URL, --blob-store s3://BUCKET/PREFIX, or both" in nothing.stderr
    elsewhere = single.cli("db", "migrate-store", "--database", "mysql://host/db")
    assert elsewhere.returncode == 2
    assert "'mysql': the catalog is copied into PostgreSQL" in elsewhere.stderr
    bad = single.cli("db", "migrate-store", "--blob-store", "https://bucket/x")
    assert bad.returncode == 2
    assert "is not an object store URL" in bad.stderr
