"""`rennet refresh`: cached pages revalidated on demand, what changed summarized, and served at once by a running
server; files gone upstream kept and marked, then pruned; failures reported and retried by the next run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import httpx

from tests.support.dists import make_sdist, make_wheel
from tests.support.pages import json_files as listed
from tests.support.server import LocalServer
from tests.support.store import blob_path, cli, file_row, query, wait_until_held
from tests.support.upstream import FakeUpstream


def test_refresh_finds_a_new_version_and_a_yank(rennet: LocalServer, upstream: FakeUpstream) -> None:
    wheel, sdist = make_wheel("fresh", "1.0"), make_sdist("fresh", "1.0")
    upstream.add(wheel, sdist)
    assert set(listed(rennet, "/pypi/simple/fresh/")) == {wheel.filename, sdist.filename}
    assert set(listed(rennet, "/simple/fresh/")) == {wheel.filename, sdist.filename}  # the group caches it too
    newer = make_wheel("fresh", "2.0")
    upstream.add(newer)
    upstream.replace(replace(sdist, yanked="broken build"))
    assert newer.filename not in listed(rennet, "/pypi/simple/fresh/"), "the page is fresh for 10 minutes"

    done = cli(rennet, "refresh", "--older-than", "0s")
    assert done.returncode == 0, done.stderr
    assert "pages: 1 checked, 0 unchanged, 1 changed, 0 failed" in done.stdout
    assert "files: 1 new, 1 yanked, 0 unyanked, 0 gone upstream" in done.stdout
    assert f"new: {newer.filename}" in done.stdout
    assert f"yanked: {sdist.filename}" in done.stdout
    for path in ("/pypi/simple/fresh/", "/simple/fresh/"):  # at once, through the group too
        files = listed(rennet, path)
        assert newer.filename in files
        assert files[sdist.filename]["yanked"] == "broken build"
        assert files[wheel.filename]["yanked"] is False

    again = cli(rennet, "refresh", "--older-than", "0s")
    assert again.returncode == 0, again.stderr
    assert "pages: 1 checked, 1 unchanged, 0 changed, 0 failed" in again.stdout
    assert upstream.answered("/simple/fresh/", 304) == 1, "the second run asked with a conditional request"


def test_only_pages_older_than_asked_are_refreshed(rennet: LocalServer, upstream: FakeUpstream) -> None:
    upstream.add(make_wheel("recent", "1.0"))
    listed(rennet, "/pypi/simple/recent/")
    done = cli(rennet, "refresh", "--older-than", "1h")
    assert done.returncode == 0, done.stderr
    assert "pages: 0 checked" in done.stdout
    assert upstream.count("/simple/recent/") == 1
    # Once the upstream last confirmed it two hours ago, the same run takes it.
    query(rennet, "UPDATE projects SET fetched_at = fetched_at - 7200 WHERE name = 'recent'")
    older = cli(rennet, "refresh", "--older-than", "1h")
    assert older.returncode == 0, older.stderr
    assert "pages: 1 checked, 1 unchanged, 0 changed, 0 failed" in older.stdout
    assert upstream.count("/simple/recent/") == 2


def test_files_gone_upstream_are_kept_then_pruned(rennet: LocalServer, upstream: FakeUpstream) -> None:
    held, unheld, staying = make_wheel("shrink", "1.0"), make_wheel("shrink", "1.1"), make_wheel("shrink", "2.0")
    upstream.add(held, unheld, staying)
    listed(rennet, "/pypi/simple/shrink/")
    url = f"/pypi/files/shrink/{held.filename}"
    assert rennet.get(url).content == held.data
    wait_until_held(rennet, held.filename, held.sha256)
    upstream.remove(held.filename)
    upstream.remove(unheld.filename)

    done = cli(rennet, "refresh", "--older-than", "0s")
    assert done.returncode == 0, done.stderr
    assert "files: 0 new, 0 yanked, 0 unyanked, 2 gone upstream (kept; --prune removes them)" in done.stdout
    assert held.filename in done.stdout and unheld.filename in done.stdout
    assert file_row(rennet, held.filename)["gone"] and file_row(rennet, unheld.filename)["gone"]
    # Listed while held (an install that pinned it keeps working), and served; the one never fetched is not.
    assert set(listed(rennet, "/pypi/simple/shrink/")) == {held.filename, staying.filename}
    assert rennet.get(url).content == held.data

    pruned = cli(rennet, "refresh", "--older-than", "0s", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 2 file(s) gone upstream" in pruned.stdout
    assert f"pypi/shrink/{held.filename}" in pruned.stdout
    assert set(listed(rennet, "/pypi/simple/shrink/")) == {staying.filename}
    assert rennet.get(url).status_code == 404
    assert blob_path(rennet, held.sha256).is_file(), "the bytes stay until gc"


def test_failures_are_reported_and_the_next_run_catches_up(rennet: LocalServer, upstream: FakeUpstream) -> None:
    upstream.add(make_wheel("steady", "1.0"), make_wheel("flaky", "1.0"))
    listed(rennet, "/pypi/simple/steady/")
    listed(rennet, "/pypi/simple/flaky/")
    newer = make_wheel("flaky", "2.0")
    upstream.add(newer)
    upstream.fault("/simple/flaky/", "500")

    failed = cli(rennet, "refresh", "--older-than", "0s")
    assert failed.returncode == 1
    assert "pages: 2 checked, 1 unchanged, 0 changed, 1 failed" in failed.stdout
    assert "failed pypi/flaky:" in failed.stderr
    assert newer.filename not in listed(rennet, "/pypi/simple/flaky/")

    upstream.fault("/simple/flaky/", None)
    retried = cli(rennet, "refresh", "--older-than", "0s")
    assert retried.returncode == 0, retried.stderr
    assert "1 changed, 0 failed" in retried.stdout
    assert f"new: {newer.filename}" in retried.stdout
    assert newer.filename in listed(rennet, "/pypi/simple/flaky/")


def test_a_project_removed_upstream_is_reported(rennet: LocalServer, upstream: FakeUpstream) -> None:
    upstream.add(make_wheel("vanishing", "1.0"))
    listed(rennet, "/pypi/simple/vanishing/")
    upstream.projects.pop("vanishing")
    done = cli(rennet, "refresh", "--older-than", "0s")
    assert done.returncode == 0, done.stderr
    assert "1 no longer upstream" in done.stdout
    assert "projects no longer upstream: pypi/vanishing" in done.stdout
    assert rennet.get("/pypi/simple/vanishing/").status_code == 404


def test_refresh_with_one_index(rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream) -> None:
    other = FakeUpstream().start()
    try:
        config = f'[index.other]\ntype = "proxy"\nupstream = "{other.url}"\n'
        server = rennet_factory(upstream_url=upstream.url, config=config)
        upstream.add(make_wheel("left", "1.0"))
        other.add(make_wheel("right", "1.0"))
        listed(server, "/pypi/simple/left/")
        listed(server, "/other/simple/right/")
        done = cli(server, "refresh", "--index", "other", "--older-than", "0s")
        assert done.returncode == 0, done.stderr
        assert "pages: 1 checked" in done.stdout
        assert other.count("/simple/right/") == 2
        assert upstream.count("/simple/left/") == 1
    finally:
        other.stop()


def test_broken_inputs_are_refused(rennet: LocalServer) -> None:
    for args, message in (
        (["--index", "nowhere"], "there is no index named 'nowhere'"),
        (["--index", "local"], "local is a hosted index"),
        (["--index", "default"], "default is a group"),
        (["--older-than", "soon"], "--older-than: 'soon' is not a duration"),
        (["--older-than=-5m"], "is not a duration"),
        (["--concurrency", "0"], "--concurrency takes 1 to 64"),
    ):
        done = cli(rennet, "refresh", *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr, (args, done.stderr)


def test_offline_refuses(rennet: LocalServer) -> None:
    done = cli(rennet, "refresh", config="offline = true\n")
    assert done.returncode == 2
    assert "offline" in done.stderr
    assert httpx.get(rennet.url + "/health").status_code == 200
