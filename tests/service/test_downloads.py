"""Single-flight downloads on a real blob store, driven by a fetch the test controls: readers share one transfer,
the last 64 KiB wait for verification, a failure reaches every reader and leaves nothing behind, and a download
that another worker runs is tailed from its temporary file."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from rennet.service.runtime.downloads import (
    Download,
    DownloadFailed,
    Downloads,
    TryAgain,
)
from rennet.storage.blobs import BlobWriter, LocalBlobStore, lock_held
from tests.support.services import until

DATA = random.Random("downloads").randbytes(300_000)
HELD_BACK = 64 << 10  # the bytes no reader gets before the file is verified (a literal: HOLDBACK is what is tested)
SHA = hashlib.sha256(DATA).hexdigest()
KEY = "pypi/thing/thing-1.0-py3-none-any.whl"


class Reader:
    """A client reading a download as it grows; `received` is what it was sent so far."""

    def __init__(self, download: Download, fd: int) -> None:
        self.received = bytearray()
        self.task = asyncio.ensure_future(self._read(download, fd))

    async def _read(self, download: Download, fd: int) -> bytes:
        async for chunk in download.stream(fd, chunk=16 << 10):
            self.received += chunk
        return bytes(self.received)


class Transfer:
    """A fetch the test steps through: everything but the gates is written at once."""

    def __init__(self, blobs: LocalBlobStore, data: bytes = DATA, fail: str | None = None) -> None:
        self.blobs = blobs
        self.data = data
        self.fail = fail
        self.calls = 0
        self.written = asyncio.Event()
        self.release = asyncio.Event()  # the test lets the transfer end (verified, or failing)

    async def fetch(self, download: Download, writer: BlobWriter) -> str:
        self.calls += 1
        download.announce(len(self.data))
        for start in range(0, len(self.data), 50_000):
            writer.write(self.data[start : start + 50_000])
            download.advance(writer.size)
            await asyncio.sleep(0)
        self.written.set()
        await self.release.wait()
        if self.fail is not None:
            raise OSError(self.fail)
        return writer.commit({"sha256": SHA})

    async def outcome(self) -> str | None:
        return SHA if self.blobs.exists(SHA) else None


def run(scenario: Callable[[LocalBlobStore, list[Downloads]], Awaitable[None]], tmp_path: Path) -> None:
    """Run with a blob store and the downloads of as many workers as the scenario makes; all closed after."""
    blobs = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")

    async def main() -> None:
        workers: list[Downloads] = []
        try:
            await scenario(blobs, workers)
        finally:
            for downloads in workers:
                await downloads.close()

    asyncio.run(main())


def leftovers(blobs: LocalBlobStore) -> list[str]:
    return sorted(path.name for path in (blobs.shared_temp / "downloads").glob("*.part"))


def test_readers_share_one_transfer_and_the_last_bytes_wait_for_verification(tmp_path: Path) -> None:
    async def scenario(blobs: LocalBlobStore, workers: list[Downloads]) -> None:
        downloads = Downloads(blobs)
        workers.append(downloads)
        transfer = Transfer(blobs)
        first, fd = await downloads.join(KEY, transfer.fetch, transfer.outcome, len(DATA), ("sha256",))
        readers = [Reader(first, fd)]
        for _ in range(3):
            joined, fd = await downloads.join(KEY, transfer.fetch, transfer.outcome, len(DATA), ("sha256",))
            assert joined is first
            readers.append(Reader(joined, fd))
        await first.headers_known()
        await transfer.written.wait()
        await until(lambda: all(len(r.received) == len(DATA) - HELD_BACK for r in readers), "readers caught up")
        await asyncio.sleep(0.05)
        # Everything is written, nothing verified yet: the last 64 KiB are kept from every reader.
        assert all(len(r.received) == len(DATA) - HELD_BACK for r in readers)
        assert not any(r.task.done() for r in readers)
        assert not blobs.exists(SHA)
        assert lock_held(blobs.shared_temp / "downloads" / f"{hashlib.sha256(KEY.encode()).hexdigest()[:40]}.lock")

        transfer.release.set()
        assert await asyncio.gather(*(r.task for r in readers)) == [DATA] * 4
        await first.settled()
        assert transfer.calls == 1
        assert blobs.exists(SHA)
        assert leftovers(blobs) == []

        # Asked again once it is held: the caller is told to look the file up again, nothing is fetched.
        with pytest.raises(TryAgain):
            await downloads.join(KEY, transfer.fetch, transfer.outcome, len(DATA), ("sha256",))
        assert transfer.calls == 1

    run(scenario, tmp_path)


def test_a_failed_transfer_fails_every_reader_and_leaves_nothing(tmp_path: Path) -> None:
    async def scenario(blobs: LocalBlobStore, workers: list[Downloads]) -> None:
        downloads = Downloads(blobs)
        workers.append(downloads)
        transfer = Transfer(blobs, fail="the upstream broke off")
        readers = []
        for _ in range(3):
            download, fd = await downloads.join(KEY, transfer.fetch, transfer.outcome, len(DATA))
            readers.append(Reader(download, fd))
        await transfer.written.wait()
        transfer.release.set()
        for reader in readers:
            with pytest.raises(DownloadFailed, match="the upstream broke off"):
                await reader.task
            assert len(reader.received) <= len(DATA) - HELD_BACK  # never the whole file
        await download.settled()
        assert transfer.calls == 1
        assert not blobs.exists(SHA)
        assert leftovers(blobs) == []

        # The next request starts a new transfer.
        retry = Transfer(blobs)
        retry.release.set()
        again, fd = await downloads.join(KEY, retry.fetch, retry.outcome, len(DATA))
        assert again is not download
        assert await Reader(again, fd).task == DATA

    run(scenario, tmp_path)


@pytest.mark.parametrize("succeeds", [True, False], ids=["committed", "failed"])
def test_another_worker_tails_the_download_and_learns_its_outcome(tmp_path: Path, succeeds: bool) -> None:
    """Two workers of one server (each its own Downloads): the second finds the lock taken, reads the growing
    temporary file, and completes its response only if the first committed those very bytes."""

    async def scenario(blobs: LocalBlobStore, workers: list[Downloads]) -> None:
        running, tailing = Downloads(blobs), Downloads(blobs)
        workers += [running, tailing]
        transfer = Transfer(blobs, fail=None if succeeds else "wrong bytes")
        own, fd = await running.join(KEY, transfer.fetch, transfer.outcome, len(DATA))
        local = Reader(own, fd)
        await transfer.written.wait()

        remote, remote_fd = await tailing.join(KEY, transfer.fetch, transfer.outcome, len(DATA))
        assert remote is not own
        await remote.headers_known()
        tail = Reader(remote, remote_fd)
        await until(lambda: len(tail.received) == len(DATA) - HELD_BACK, "the tail caught up")
        assert not tail.task.done()

        transfer.release.set()
        if succeeds:
            assert await local.task == DATA
            assert await tail.task == DATA
        else:
            for reader in (local, tail):
                with pytest.raises(DownloadFailed):
                    await reader.task
        await remote.settled()
        assert transfer.calls == 1
        assert blobs.exists(SHA) is succeeds

    run(scenario, tmp_path)


class FailsAtTheEnd(Transfer):
    """A transfer that fails once its bytes are written: after verifying them (keeping them failed: the object
    store refused the upload), or before (the store could not be read)."""

    def __init__(self, blobs: LocalBlobStore, error: Exception, verified: bool) -> None:
        super().__init__(blobs)
        self.error = error
        self.verified = verified

    async def fetch(self, download: Download, writer: BlobWriter) -> str:
        self.calls += 1
        download.announce(len(self.data))
        writer.write(self.data)
        download.advance(writer.size)
        self.written.set()
        await self.release.wait()
        if self.verified:
            writer.verify({"sha256": SHA})
            download.finish(None)  # the bytes are whole: readers may have them
        raise self.error


@pytest.mark.parametrize("verified", [True, False], ids=["verified", "store-down"])
def test_a_tailing_worker_learns_why_the_other_failed(tmp_path: Path, verified: bool) -> None:
    """What the other worker knew reaches the tailer through the lock file: verified bytes complete its response
    although they were not kept; a store that could not be used is named as such (a 503 for its client)."""
    from rennet.storage.objectstore import ObjectStoreUnavailable

    async def scenario(blobs: LocalBlobStore, workers: list[Downloads]) -> None:
        running, tailing = Downloads(blobs), Downloads(blobs)
        workers += [running, tailing]
        unavailable = ObjectStoreUnavailable("the object store s3://b cannot be reached")
        transfer = FailsAtTheEnd(blobs, unavailable, verified)
        own, fd = await running.join(KEY, transfer.fetch, transfer.outcome, len(DATA))
        local = Reader(own, fd)
        await transfer.written.wait()
        remote, remote_fd = await tailing.join(KEY, transfer.fetch, transfer.outcome, len(DATA))
        tail = Reader(remote, remote_fd)

        transfer.release.set()
        if verified:
            assert await local.task == DATA and await tail.task == DATA
            assert not remote.store_unavailable
        else:
            for reader in (local, tail):
                with pytest.raises(DownloadFailed):
                    await reader.task
            assert remote.store_unavailable
        await remote.settled()
        assert not blobs.exists(SHA)

        # A later attempt starts afresh: nothing an earlier one told is read as its own outcome.
        retry = Transfer(blobs, fail="broken again")
        again, fd = await running.join(KEY, retry.fetch, retry.outcome, len(DATA))
        await retry.written.wait()
        late, late_fd = await tailing.join(KEY, retry.fetch, retry.outcome, len(DATA))
        retry.release.set()
        with pytest.raises(DownloadFailed):
            await Reader(late, late_fd).task
        assert not late.store_unavailable
        with pytest.raises(DownloadFailed):
            await Reader(again, fd).task

    run(scenario, tmp_path)
