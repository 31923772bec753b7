"""Leases on upstream transfers (PostgreSQL): one holder at a time, renewed while held, taken over once expired,
given back by their holder only; a host that takes a lease looks again whether the file was recorded meanwhile;
copies from the bucket are refused with a sentence when the bucket fails before they begin."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from rennet.service.answers import FileAnswer, copied
from rennet.service.errors import ServiceError
from rennet.service.runtime.downloads import DownloadFailed
from rennet.storage.catalog import FileRecord
from rennet.storage.objectstore import ObjectStoreUnavailable
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


def test_leases_run_on_the_database_clock_not_on_a_host_whose_clock_is_ahead(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder, skewed = TransferLeases(postgres_engine, "host-a:1"), TransferLeases(postgres_engine, "host-b:1")
    assert holder.take(KEY, 30) is True
    ahead = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: ahead)  # host b's clock, an hour fast

    assert skewed.take(KEY, 30) is False
    with postgres_engine.begin() as connection:
        (expires_at,) = connection.execute(text("SELECT expires_at FROM transfers")).one()
    assert expires_at < ahead


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


def _unreadable(worker: Worker) -> None:
    """The worker's bucket answers HEAD but no longer GET: it went down between the two."""
    remote = worker.shared.blobs.remote
    assert remote is not None

    def chunks(sha256: str) -> Iterator[bytes]:
        raise ObjectStoreUnavailable("the object store s3://somewhere cannot be reached: connection refused")
        yield b""

    remote.chunks = chunks  # type: ignore[method-assign]


async def _refusal(answer: Awaitable[FileAnswer]) -> ServiceError:
    try:
        got = await copied(await answer)  # a whole file's copy begins, as a plain GET's does
    except ServiceError as error:
        return error
    try:
        await read_answer(got)
    except DownloadFailed as error:
        raise AssertionError(f"a 200 whose transfer broke off: {error}") from None
    raise AssertionError("the file was sent")


def test_a_bucket_that_fails_before_a_copy_begins_is_a_503_with_a_sentence_not_a_broken_transfer(
    tmp_path: Path, postgres_server: PostgresServer, blob_store: str, upstream: FakeUpstream
) -> None:
    """Copies from the bucket (a host without a copy of a stored file, and a host that finds an upstream file
    recorded once it holds the lease) say 200 only once the bucket sends the file: a bucket that fails before
    that is refused as the store being down, never with its own error, which names its endpoint."""
    hosted, proxied = make_wheel("stored-here", "1.0"), make_wheel("stored-there", "1.0")
    upstream.add(proxied)
    config = f'blob_store = "{blob_store}"\n[index.local]\nupload = ["alice"]\n'
    with Database("psycopg", postgres_server).catalog(tmp_path) as url:
        first, second = (
            Services(tmp_path / name, url, upstream, migrated=True).configure(config) for name in ("first", "second")
        )
        looked_up = second.run(lambda worker: worker.proxy()._file_record("stored-there", proxied.filename))

        async def store(worker: Worker) -> None:
            await worker.publish(hosted)
            await read_answer(await worker.proxy().open_file("stored-there", proxied.filename))

            def recorded() -> bool:
                record = worker.catalog.file("pypi", "stored-there", proxied.filename)
                return record is not None and record.blob_sha256 is not None

            await until(recorded, "the first host recorded the proxied file")

        first.run(store)

        async def refused(worker: Worker) -> list[ServiceError]:
            _unreadable(worker)
            return [
                await _refusal(worker.hosted().open_file("stored-here", hosted.filename)),
                await _refusal(worker.proxy()._stream(looked_up)),
            ]

        for error in second.run(refused):
            assert (error.status, error.message) == (
                503,
                "the file store is unavailable right now; try again in a few seconds",
            )
            assert error.headers == {"Retry-After": "5"}
