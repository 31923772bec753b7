"""The hosted index, in-process: pages from the catalog after `publish`, kept in memory until their generation
changes (whichever process changed it), and the published files and their metadata."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from rennet.domain.indexes import HostedIndex
from rennet.domain.negotiation import Format
from rennet.service.answers import LocalFile
from rennet.service.errors import NotFound
from rennet.storage.generations import slot_of
from rennet.storage.store import open_store
from tests.support.dists import make_sdist, make_wheel
from tests.support.services import Services, Worker, filenames, publish_dist, read_answer, until


def test_a_published_wheel_is_on_the_page_which_is_cached_until_its_generation_changes(services: Services) -> None:
    wheel, sdist = make_wheel("private-thing", "1.0"), make_sdist("private-thing", "1.1")
    metadata = wheel.metadata
    assert metadata is not None

    async def scenario(w: Worker) -> None:
        hosted = w.hosted()
        absent = await hosted.project_page("private-thing")
        assert absent.page is None

        assert (await w.publish(wheel)).created
        page = await hosted.project_page("private-thing")
        assert page.state == "miss"
        assert filenames(page) == [wheel.filename]
        assert page.page is not None
        listed = page.page.files[0]
        assert (listed.index, listed.sha256, listed.size) == ("local", wheel.sha256, len(wheel.data))
        assert listed.core_metadata == {"sha256": hashlib.sha256(metadata).hexdigest()}
        rendered = page.render(Format.HTML, "/", False)

        # In memory while its generation stands: not even the database is asked.
        with w.database_down() as outage:
            again = await hosted.project_page("private-thing")
            assert again is page
            assert again.state == "hit"
        assert outage.attempts == 0

        # A bump without a change (another process touched the project): read again, same rendered bytes.
        w.shared.changed("local", "private-thing")
        reread = await hosted.project_page("private-thing")
        assert reread is not page
        assert reread.render(Format.HTML, "/", False) is rendered

        # A publish bumps the generation: the next request lists the new file.
        assert (await w.publish(sdist)).created
        changed = await hosted.project_page("private-thing")
        assert changed.state == "miss"
        assert filenames(changed) == [wheel.filename, sdist.filename]
        assert changed.render(Format.HTML, "/", False).etag != rendered.etag

        # The identical file again changes nothing.
        assert not (await w.publish(wheel)).created
        assert await hosted.project_page("private-thing") is changed

    services.run(scenario)


def test_a_publish_by_another_process_is_served_at_once(services: Services) -> None:
    """`rennet import` (a command, another process) publishes into the store a running worker serves."""
    first, second = make_wheel("imported-elsewhere", "1.0"), make_wheel("imported-elsewhere", "2.0")

    async def scenario(w: Worker) -> None:
        config = w.registry.settings.indexes["local"]
        assert isinstance(config, HostedIndex)
        await w.publish(first)
        page = await w.hosted().project_page("imported-elsewhere")
        assert filenames(page) == [first.filename]

        def command() -> None:
            store = open_store(services.data_dir, services.database_url, migrated=True)
            try:
                publish_dist(store, config, second)
            finally:
                store.close()

        changes = w.registry.store.generations
        slot = slot_of("local", "imported-elsewhere")
        before = changes.get(slot)
        await asyncio.to_thread(command)
        # One host's processes share their counters: the change is seen at once. On PostgreSQL (servers on several
        # hosts) the worker hears of it from the database, within milliseconds.
        if services.database_url.startswith("postgresql"):
            await until(lambda: changes.get(slot) != before, "the worker hears of the command's change")
        assert filenames(await w.hosted().project_page("imported-elsewhere")) == [first.filename, second.filename]
        assert filenames(await w.group().project_page("imported-elsewhere")) == [first.filename, second.filename]

    services.run(scenario)


def test_published_files_and_their_metadata_are_sent_from_disk(services: Services) -> None:
    wheel, sdist = make_wheel("hosted-files", "1.0"), make_sdist("hosted-files", "1.0")

    async def scenario(w: Worker) -> None:
        hosted = w.hosted()
        await w.publish(wheel)
        await w.publish(sdist)
        answer = await hosted.open_file("hosted-files", wheel.filename)
        assert isinstance(answer, LocalFile)
        assert answer.sha256 == wheel.sha256
        assert await read_answer(answer) == wheel.data
        assert await read_answer(await hosted.open_file("hosted-files", sdist.filename)) == sdist.data
        assert await read_answer(await hosted.open_metadata("hosted-files", wheel.filename)) == wheel.metadata

        with pytest.raises(NotFound):
            await hosted.open_metadata("hosted-files", sdist.filename)  # PEP 658 is for wheels
        with pytest.raises(NotFound):
            await hosted.open_file("hosted-files", "hosted_files-9.0-py3-none-any.whl")
        with pytest.raises(NotFound):
            await hosted.open_file("hosted-nothing", wheel.filename)

    services.run(scenario)
