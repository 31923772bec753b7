"""`rennet stats`: counts and bytes that match the catalog and the disk, and hit rates that match the requests a
running server answered since it started. (Several workers counting into one file: tests/e2e/test_stats.py.)"""

from __future__ import annotations

from tests.support.dists import make_sdist, make_wheel
from tests.support.server import LocalServer
from tests.support.store import blob_path, cli, stats, wait_until_held
from tests.support.upstream import FakeUpstream


def test_stats_match_what_was_stored_and_requested(rennet: LocalServer, upstream: FakeUpstream) -> None:
    wheel, sdist, other = (
        make_wheel("counted", "1.0", padding=30_000),
        make_sdist("counted", "1.0"),
        make_wheel("b", "1"),
    )
    upstream.add(wheel, sdist, other)
    before = stats(rennet)
    assert before["requests"]["pages"]["total"] == 0 and before["requests"]["files"]["total"] == 0
    rennet.wait_for_access("/health")  # the start-up probe's line: neither a page nor a file
    start = len(rennet.access_lines())

    for _ in range(3):  # a miss, then two hits
        assert rennet.get("/pypi/simple/counted/").status_code == 200
    assert rennet.get("/pypi/simple/nothing-here/").status_code == 404  # asked upstream: a miss
    for number in range(4):  # a download, then three hits
        assert rennet.get(f"/pypi/files/counted/{wheel.filename}").content == wheel.data
        if number == 0:  # held once its blob and row are written, just after the client has the bytes
            wait_until_held(rennet, wheel.filename, wheel.sha256)
    assert rennet.get("/pypi/files/counted/counted-9.9.tar.gz").status_code == 404  # an error
    rennet.wait_for_access_lines(start + 9)  # each request is counted before its line is written

    found = stats(rennet)
    pages, files = found["requests"]["pages"], found["requests"]["files"]
    assert (pages["hit"], pages["miss"] + pages["refresh"], pages["error"], pages["total"]) == (2, 2, 0, 4)
    assert pages["hit_rate"] == 0.5
    assert (files["hit"], files["miss"], files["error"], files["total"]) == (3, 1, 1, 5)
    assert files["hit_rate"] == 0.75

    pypi = found["indexes"]["pypi"]
    assert blob_path(rennet, wheel.sha256).stat().st_size == len(wheel.data)
    assert (pypi["projects"], pypi["files"], pypi["held_files"], pypi["held_bytes"]) == (1, 2, 1, len(wheel.data))
    assert pypi["oldest_page"]["project"] == "counted"
    assert found["indexes"]["local"]["files"] == 0
    assert found["indexes"]["default"] == {"kind": "group", "members": ["local", "pypi"]}

    table = cli(rennet, "stats")
    assert table.returncode == 0, table.stderr
    assert "pages: 4 (hit 2, miss 1, refresh 1, stale 0, error 0); hit rate 50.0%" in table.stdout
    assert "files: 5 (hit 3, miss 1, error 1); hit rate 75.0%" in table.stdout
    assert "counted, " in table.stdout  # the oldest page

    rennet.restart()  # counting starts again with the server
    after = stats(rennet)
    assert after["requests"]["pages"]["total"] == after["requests"]["files"]["total"] == 0
    assert after["indexes"]["pypi"]["held_bytes"] == len(wheel.data)


def test_stats_without_a_server(rennet: LocalServer) -> None:
    (rennet.data_dir / "run" / "counters").unlink()
    done = cli(rennet, "stats")
    assert done.returncode == 0, done.stderr
    assert "no server has run on this data directory yet" in done.stdout
    assert stats(rennet)["requests"] is None
