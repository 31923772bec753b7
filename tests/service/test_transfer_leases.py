"""Leases on upstream transfers (PostgreSQL): one holder at a time, renewed while held, taken over once expired,
given back by their holder only; a host that takes a lease looks again whether the file was recorded meanwhile."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, text

from rennet.storage.catalog import FileRecord
from rennet.storage.transfers import TransferLeases
from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.postgres import PostgresServer
from tests.support.services import Services, Worker, read_answer, until
from tests.support.upstream import FakeUpstream

KEY = "pypi/thing/thing-1.0-py3-none-any.whl"


def test_one_holder_at_a_time_until_it_gives_the_lease_back(postgres_engine: Engine) -> None:
    first, second = TransferLeases(postgres_engine, "host-a:1"), TransferLeases(postgres_engine, "host-b:1")

    assert first.take(KEY, 30) is True
    assert second.take(KEY, 30) is False
    assert second.take("pypi/other/other-1.0.tar.gz", 30) is True  # leases are per file
    second.give_back(KEY)  # not its lease: nothing happens
    assert second.take(KEY, 30) is False

    first.give_back(KEY)
    assert second.take(KEY, 30) is True


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_renew_it(postgres_engine: Engine) -> None:
    dead, alive = TransferLeases(postgres_engine, "host-a:1"), TransferLeases(postgres_engine, "host-b:1")
    assert dead.take(KEY, 30) is True
    assert dead.renew(KEY, 30) is True
    with postgres_engine.begin() as connection:  # as if its holder had died half a minute ago
        connection.execute(text("UPDATE transfers SET expires_at = :past"), {"past": time.time() - 1})

    assert alive.take(KEY, 30) is True
    assert dead.renew(KEY, 30) is False
    assert dead.take(KEY, 30) is False


def test_a_host_that_looked_before_another_recorded_the_file_copies_it_from_the_bucket(
    tmp_path: Path, postgres_server: PostgresServer, blob_store: str, upstream: FakeUpstream
) -> None:
    """The race of two hosts asked for one file at once, made to happen: the second host looks the file up (listed,
    not held), then the first fetches it, records it and gives its lease back, then the second goes on and takes
    the lease at once, without waiting. The file is recorded by then: the second copies it from the bucket rather
    than fetch it from the upstream a second time."""
    wheel = make_wheel("raced", "1.0")
    upstream.add(wheel)
    with Database("psycopg", postgres_server).catalog(tmp_path) as url:
        first, second = (
            Services(tmp_path / name, url, upstream, migrated=True).configure(f'blob_store = "{blob_store}"\n')
            for name in ("first", "second")
        )

        async def look_up(worker: Worker) -> FileRecord:
            return await worker.proxy()._file_record("raced", wheel.filename)

        async def download(worker: Worker) -> bytes:
            data = await read_answer(await worker.proxy().open_file("raced", wheel.filename))

            def recorded() -> bool:  # clients finish once the bytes are verified; the record follows
                record = worker.catalog.file("pypi", "raced", wheel.filename)
                return record is not None and record.blob_sha256 is not None

            await until(recorded, "the first host recorded the file")
            return data

        looked_up = second.run(look_up)
        assert looked_up.blob_sha256 is None
        assert first.run(download) == wheel.data
        assert upstream.count(f"/files/{wheel.filename}") == 1

        async def go_on(worker: Worker) -> bytes:
            return await read_answer(await worker.proxy()._stream(looked_up))

        assert second.run(go_on) == wheel.data
        assert upstream.count(f"/files/{wheel.filename}") == 1
