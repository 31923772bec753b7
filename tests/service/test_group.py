"""Groups, in-process: a project in a hosted member hides the proxied project of the same name entirely
(dependency confusion), `allow_upstream` merges both on purpose, the first proxy with the project wins, and a
file is reachable through the group only from the member whose listing the group serves."""

from __future__ import annotations

import pytest

from rennet.service.answers import LocalFile, StreamingFile
from rennet.service.errors import NotFound
from tests.support.dists import make_wheel
from tests.support.services import Services, Worker, filenames, read_answer
from tests.support.upstream import FakeUpstream


def test_a_hosted_project_hides_the_proxied_project_of_the_same_name(services: Services) -> None:
    up = services.upstream
    private = make_wheel("confusable", "1.0")
    public = make_wheel("confusable", "1.0", requires=("something-else",))  # same name, other bytes
    newer = make_wheel("confusable", "99.0")
    assert private.filename == public.filename and private.sha256 != public.sha256
    up.add(public, newer)

    async def scenario(w: Worker) -> None:
        group = w.group()
        before = await group.project_page("confusable")
        assert filenames(before) == [public.filename, newer.filename]
        assert up.count("/simple/confusable/") == 1
        # From now on, consulting the proxy would take a request to the upstream (its page is due).
        w.clock.advance(w.proxy().config.page_ttl + 1)

        await w.publish(private)
        page = await group.project_page("confusable")
        assert filenames(page) == [private.filename]
        assert page.page is not None
        assert (page.page.files[0].index, page.page.files[0].sha256) == ("local", private.sha256)
        assert page.index_of(newer.filename) is None

        # The hidden files are not reachable through the group, whatever the name asked for.
        with pytest.raises(NotFound):
            await group.open_file("confusable", newer.filename)
        with pytest.raises(NotFound):
            await group.open_metadata("confusable", newer.filename)
        answer = await group.open_file("confusable", private.filename)
        assert isinstance(answer, LocalFile)
        assert await read_answer(answer) == private.data

        # The proxy was not consulted (it could not change the answer), and no public file was fetched.
        assert up.count("/simple/confusable/") == 1
        assert up.count("/files/confusable-") == 0
        # The rule is the group's: the proxy on its own still serves the public project.
        assert filenames(await w.proxy().project_page("confusable")) == [public.filename, newer.filename]

    services.run(scenario)


def test_allow_upstream_merges_and_each_file_comes_from_the_member_listing_it(services: Services) -> None:
    up = services.upstream
    services.configure('[index.mixed]\ntype = "group"\nmembers = ["local", "pypi"]\nallow_upstream = ["merged"]\n')
    private = make_wheel("merged", "1.0")
    public_twin = make_wheel("merged", "1.0", requires=("something-else",))
    public_only = make_wheel("merged", "2.0")
    up.add(public_twin, public_only)

    async def scenario(w: Worker) -> None:
        await w.publish(private)
        assert filenames(await w.group("default").project_page("merged")) == [private.filename]

        mixed = w.group("mixed")
        page = await mixed.project_page("merged")
        assert filenames(page) == [private.filename, public_only.filename]
        assert page.index_of(private.filename) == "local"  # the first member listing a name provides it
        assert page.index_of(public_only.filename) == "pypi"

        hosted_answer = await mixed.open_file("merged", private.filename)
        assert isinstance(hosted_answer, LocalFile)
        assert await read_answer(hosted_answer) == private.data
        assert up.requests[f"/files/{private.filename}"] == 0

        proxied_answer = await mixed.open_file("merged", public_only.filename)
        assert isinstance(proxied_answer, StreamingFile)
        assert await read_answer(proxied_answer) == public_only.data
        assert up.requests[f"/files/{public_only.filename}"] == 1

        with pytest.raises(NotFound):
            await w.hosted().open_file("merged", public_only.filename)

    services.run(scenario)


def test_the_first_proxy_with_the_project_wins(services: Services) -> None:
    up = services.upstream
    second = FakeUpstream().start()
    try:
        services.configure(
            f'[index.second]\ntype = "proxy"\nupstream = "{second.url}"\n'
            '[index.proxies]\ntype = "group"\nmembers = ["pypi", "second"]\n'
        )
        first_only = make_wheel("split-project", "1.0")
        second_only = make_wheel("split-project", "2.0")
        elsewhere = make_wheel("only-second", "1.0")
        up.add(first_only)
        second.add(first_only, second_only, elsewhere)

        async def scenario(w: Worker) -> None:
            group = w.group("proxies")
            page = await group.project_page("split-project")
            assert filenames(page) == [first_only.filename]
            assert second.count("/simple/split-project/") == 0
            with pytest.raises(NotFound):
                await group.open_file("split-project", second_only.filename)
            # Only through the member that lists it.
            direct = await w.proxy("second").open_file("split-project", second_only.filename)
            assert await read_answer(direct) == second_only.data

            # A project the first proxy lacks comes from the second, files included.
            found = await group.project_page("only-second")
            assert filenames(found) == [elsewhere.filename]
            assert found.index_of(elsewhere.filename) == "second"
            assert up.answered("/simple/only-second/", 404) == 1
            answer = await group.open_file("only-second", elsewhere.filename)
            assert await read_answer(answer) == elsewhere.data
            assert second.requests[f"/files/{elsewhere.filename}"] == 1
            assert up.requests[f"/files/{elsewhere.filename}"] == 0

        services.run(scenario)
    finally:
        second.stop()
