"""The proxy's files, in-process against the fake upstream: the first download streams while it is verified,
concurrent readers share it, a bad transfer fails every reader and stores nothing, held files come from disk,
and metadata rennet extracts from a wheel is advertised by the time the wheel's readers are done."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import replace

import pytest

from rennet.domain.search import Described
from rennet.service.answers import LocalFile, StreamingFile
from rennet.service.errors import ServiceError
from rennet.service.runtime.downloads import DownloadFailed
from rennet.storage.catalog import FileRecord
from tests.support.dists import make_wheel
from tests.support.services import Services, Worker, read_answer, until


def _parts(w: Worker) -> list[str]:
    """Temporary files of downloads left in the data directory."""
    return sorted(path.name for path in (w.shared.blobs.shared_temp / "downloads").glob("*.part"))


def test_a_first_download_streams_verified_bytes_and_the_file_is_held_afterwards(services: Services) -> None:
    up = services.upstream
    wheel = make_wheel("streamed", "1.0", padding=300_000)
    up.add(wheel)

    async def first_worker(w: Worker) -> None:
        proxy = w.proxy()
        answer = await proxy.open_file("streamed", wheel.filename)
        assert isinstance(answer, StreamingFile)
        assert answer.cache == "miss"
        assert (answer.size, answer.sha256) == (len(wheel.data), wheel.sha256)
        assert await read_answer(answer) == wheel.data
        await answer.download.settled()
        assert w.shared.blobs.exists(wheel.sha256)
        record = await asyncio.to_thread(w.catalog.file, "pypi", "streamed", wheel.filename)
        assert record is not None
        assert (record.blob_sha256, record.size) == (wheel.sha256, len(wheel.data))
        assert _parts(w) == []

        held = await proxy.open_file("streamed", wheel.filename)
        assert isinstance(held, LocalFile)
        assert (held.cache, held.sha256, held.size) == ("hit", wheel.sha256, len(wheel.data))
        assert await read_answer(held) == wheel.data
        assert up.requests[f"/files/{wheel.filename}"] == 1

    services.run(first_worker)

    async def restarted(w: Worker) -> None:
        # Nothing in memory, the page due for revalidation and the upstream failing: the file is sent from disk.
        up.fault("/simple/streamed/", "500")
        up.fault(f"/files/{wheel.filename}", "500")
        w.clock.advance(w.proxy().config.page_ttl + 1)
        held = await w.proxy().open_file("streamed", wheel.filename)
        assert isinstance(held, LocalFile)
        assert await read_answer(held) == wheel.data

    services.run(restarted)
    assert up.requests[f"/files/{wheel.filename}"] == 1


def test_concurrent_readers_share_one_download(services: Services) -> None:
    up = services.upstream
    wheel = make_wheel("shared-download", "1.0", padding=400_000)
    up.add(wheel)
    path = f"/files/{wheel.filename}"
    up.fault(path, "stall")  # half the file, then nothing until the fault is cleared

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        answers = await asyncio.gather(*(proxy.open_file("shared-download", wheel.filename) for _ in range(5)))
        streams = [answer for answer in answers if isinstance(answer, StreamingFile)]
        assert len(streams) == 5
        download = streams[0].download
        assert all(stream.download is download for stream in streams)
        assert len({stream.fd for stream in streams}) == 5  # a descriptor each
        readers = [asyncio.ensure_future(read_answer(stream)) for stream in streams]
        await until(lambda: download.written >= len(wheel.data) // 2, "the first half arrived")
        await asyncio.sleep(0.05)
        assert not any(reader.done() for reader in readers)
        assert download.written < len(wheel.data)

        up.fault(path, None)
        assert await asyncio.gather(*readers) == [wheel.data] * 5
        await download.settled()
        assert up.requests[path] == 1

        later = await proxy.open_file("shared-download", wheel.filename)
        assert isinstance(later, LocalFile)
        assert await read_answer(later) == wheel.data
        assert up.requests[path] == 1

    services.run(scenario)


@pytest.mark.parametrize("fault", ["wrong-bytes", "truncate", "500"])
def test_a_bad_transfer_fails_every_reader_and_stores_nothing(services: Services, fault: str) -> None:
    up = services.upstream
    project = f"bad-{fault}"
    wheel = make_wheel(project, "1.0", padding=300_000)
    up.add(wheel)
    path = f"/files/{wheel.filename}"
    up.fault(path, fault)

    async def attempt(w: Worker) -> str:
        """What one client gets: the file, or a failure (before the response started or within its body)."""
        try:
            answer = await w.proxy().open_file(project, wheel.filename)
        except ServiceError as error:
            assert error.status == 502
            return "refused"
        assert isinstance(answer, StreamingFile)
        try:
            received = await read_answer(answer)
        except DownloadFailed:
            return "cut off"
        await answer.download.settled()
        return "complete" if received == wheel.data else "wrong"

    async def scenario(w: Worker) -> None:
        outcomes = await asyncio.gather(*(attempt(w) for _ in range(3)))
        assert set(outcomes) == ({"refused"} if fault == "500" else {"cut off"})
        assert not w.shared.blobs.exists(wheel.sha256)
        record = await asyncio.to_thread(w.catalog.file, "pypi", project, wheel.filename)
        assert record is not None and record.blob_sha256 is None
        assert _parts(w) == []

        # Nothing bad was kept: once the upstream sends the right bytes, they are fetched and held.
        up.fault(path, None)
        assert await attempt(w) == "complete"
        answer = await w.proxy().open_file(project, wheel.filename)
        assert isinstance(answer, LocalFile)
        answer.release()

    services.run(scenario)


def test_metadata_extracted_from_a_wheel_is_advertised_once_its_readers_are_done(services: Services) -> None:
    """The upstream offers no .metadata for the wheel: rennet takes it from the wheel it downloads. A client that
    has read the wheel to its last byte must find the page advertising that metadata (uv asks for the .metadata
    of what it installed next time). Readers used to be let go before the metadata was recorded."""
    up = services.upstream
    built = make_wheel("no-upstream-metadata", "1.0", requires=("first>=1",), padding=200_000)
    wheel = replace(built, metadata=None)  # the wheel still holds its METADATA, the upstream does not say so
    metadata = built.metadata
    assert metadata is not None
    up.add(wheel)

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        before = await proxy.project_page("no-upstream-metadata")
        assert before.page is not None
        assert before.page.files[0].core_metadata is None

        answer = await proxy.open_file("no-upstream-metadata", wheel.filename)
        assert isinstance(answer, StreamingFile)
        assert await read_answer(answer) == wheel.data
        after = await proxy.project_page("no-upstream-metadata")
        assert after.page is not None
        assert after.page.files[0].core_metadata == {"sha256": hashlib.sha256(metadata).hexdigest()}

        extracted = await proxy.open_metadata("no-upstream-metadata", wheel.filename)
        assert isinstance(extracted, LocalFile)
        assert await read_answer(extracted) == metadata
        assert up.requests[f"/files/{wheel.filename}.metadata"] == 0
        assert up.requests[f"/files/{wheel.filename}"] == 1

    services.run(scenario)


def test_upstream_metadata_is_fetched_once_and_then_held(services: Services) -> None:
    up = services.upstream
    wheel = make_wheel("upstream-metadata", "1.0", requires=("first>=1",))
    assert wheel.metadata is not None
    up.add(wheel)

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        answers = await asyncio.gather(*(proxy.open_metadata("upstream-metadata", wheel.filename) for _ in range(5)))
        assert [await read_answer(answer) for answer in answers] == [wheel.metadata] * 5
        again = await proxy.open_metadata("upstream-metadata", wheel.filename)
        assert isinstance(again, LocalFile) and again.cache == "hit"
        assert await read_answer(again) == wheel.metadata
        assert up.requests[f"/files/{wheel.filename}.metadata"] == 1
        assert up.requests[f"/files/{wheel.filename}"] == 0  # the wheel itself is not needed for it

    services.run(scenario)


def test_metadata_recorded_while_a_caller_looked_the_file_up_is_not_fetched_again(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller reads the file's record; before it joins the metadata's single flight, another caller's flight
    fetches and records the metadata, and ends. The late caller must not fetch it from the upstream again."""
    up = services.upstream
    wheel = make_wheel("metadata-window", "1.0", requires=("first>=1",))
    metadata = wheel.metadata
    assert metadata is not None
    up.add(wheel)

    async def scenario(w: Worker) -> None:
        proxy = w.proxy()
        await proxy.project_page("metadata-window")
        look_up = w.catalog.file
        read, go_on = threading.Event(), threading.Event()

        def slow_look_up(index: str, project: str, filename: str) -> FileRecord | None:
            found = look_up(index, project, filename)
            if not read.is_set():  # the late caller's look-up: read now, returned later
                read.set()
                assert go_on.wait(10)
            return found

        monkeypatch.setattr(w.catalog, "file", slow_look_up)
        late = asyncio.ensure_future(proxy.open_metadata("metadata-window", wheel.filename))
        try:
            assert await asyncio.to_thread(read.wait, 10)
            assert await read_answer(await proxy.open_metadata("metadata-window", wheel.filename)) == metadata
            assert up.requests[f"/files/{wheel.filename}.metadata"] == 1
        finally:
            go_on.set()
        assert await read_answer(await late) == metadata
        assert up.requests[f"/files/{wheel.filename}.metadata"] == 1

    services.run(scenario)


def test_a_release_whose_summary_was_learned_is_not_read_again(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search learns a proxy project's summary from the metadata clients fetch (.metadata, then the wheel): once
    per release in a worker, and never from an older release than one learned from."""
    up = services.upstream
    old, new = make_wheel("summed", "1.0"), make_wheel("summed", "2.0")
    up.add(old, new)

    async def scenario(w: Worker) -> None:
        learned: list[str] = []
        catalog = w.shared.catalog
        original = catalog.learn_summary

        def counting(index: str, project: str, described: Described) -> bool:
            learned.append(described.version)
            return original(index, project, described)

        monkeypatch.setattr(catalog, "learn_summary", counting)
        proxy = w.proxy()
        await read_answer(await proxy.open_metadata("summed", new.filename))
        await until(lambda: learned == ["2.0"], "the summary of 2.0 learned")
        for answer in (await proxy.open_file("summed", new.filename), await proxy.open_file("summed", old.filename)):
            await read_answer(answer)
            if isinstance(answer, StreamingFile):
                await answer.download.settled()
        await asyncio.sleep(0.2)  # what a learning task would take, had one started
        assert learned == ["2.0"]

    services.run(scenario)
