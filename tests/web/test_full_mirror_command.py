"""`rennet mirror --all` / `--sync` as a command, on the data directory of an in-process server that serves meanwhile.

Flags over settings, the summary and the exit status, refusals with a sentence; a group serves what the mirror
fetched into its proxy, with the group's and the proxy's policies applied at serve time. The sync logic itself:
tests/service/test_full_mirror.py.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable
from pathlib import Path

from tests.support.dists import make_sdist, make_wheel
from tests.support.server import LocalServer
from tests.support.store import blob_path, cli
from tests.support.upstream import FakeUpstream

SETTINGS = """
[index.pypi]
mirror_allow = ["web-*"]
mirror_latest = 1
mirror_sdists = false
deny = ["web-denied"]
"""


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_settings_give_the_scope_and_flags_override_them(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    old, new, sdist = make_wheel("web-one", "1.0"), make_wheel("web-one", "2.0"), make_sdist("web-one", "2.0")
    denied, outside = make_wheel("web-denied", "1.0"), make_wheel("elsewhere", "1.0")
    upstream.add(old, new, sdist, denied, outside)
    server = rennet_factory(upstream_url=upstream.url, config=SETTINGS)

    done = cli(server, "mirror", "--all", "pypi", "--min-free", "0")

    assert done.returncode == 0, done.stderr
    assert "scope: names web-*; latest 1 release(s); no sdists" in done.stderr
    assert last_line(done.stdout).startswith(
        "pypi: 3 projects listed, 2 in scope: 2 synced, 0 unchanged, 0 removed, 0 failed; files: 1 fetched ("
    )
    assert "1 file(s) withheld by the index's policy" in last_line(done.stdout)
    assert blob_path(server, new.sha256).is_file() and not blob_path(server, old.sha256).is_file()
    assert not blob_path(server, outside.sha256).is_file()
    # The proxy's deny rule holds for the mirror as for any client.
    assert not blob_path(server, denied.sha256).is_file()
    assert denied.filename not in server.get("/pypi/simple/web-denied/").text
    assert new.filename in server.get("/pypi/simple/web-one/").text

    synced = cli(server, "mirror", "--sync", "--sdists", "--min-free", "0")  # pypi by default

    assert synced.returncode == 0, synced.stderr
    assert "files: 1 fetched" in last_line(synced.stdout)  # the sdist: other filters, every project looked at
    assert blob_path(server, sdist.sha256).is_file()


def test_a_group_names_its_proxy_and_serves_what_was_mirrored(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    wheel = make_wheel("grouped", "1.0")
    upstream.add(wheel)
    server = rennet_factory(upstream_url=upstream.url)

    done = cli(server, "mirror", "--all", "default", "--min-free", "0", "--bandwidth", "10M")

    assert done.returncode == 0, done.stderr
    assert last_line(done.stdout).startswith("pypi: 1 projects listed, 1 in scope: 1 synced")
    upstream.stop()
    assert server.get(f"/default/files/grouped/{wheel.filename}").content == wheel.data


def test_a_failure_makes_the_exit_status_one_and_is_named(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    wheel = make_wheel("fails", "1.0")
    upstream.add(wheel, make_wheel("works", "1.0"))
    upstream.fault(f"/files/{wheel.filename}", "404")
    server = rennet_factory(upstream_url=upstream.url)

    done = cli(server, "mirror", "--all", "--min-free", "0")

    assert done.returncode == 1
    assert f"failed fails: 1 file(s) failed, first {wheel.filename}" in done.stderr
    assert "1 synced, 0 unchanged, 0 removed, 1 failed" in last_line(done.stdout)


def test_refusals_are_sentences(rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream) -> None:
    server = rennet_factory(upstream_url=upstream.url)
    for args, message in [
        (("--sync",), "pypi has no mirror to sync yet: make one with `rennet mirror --all pypi`"),
        (("--all", "local"), "local is a hosted index: mirror into a proxy index"),
        (("--all", "nowhere"), "there is no index named 'nowhere'"),
        (("--all", "--sync"), "--all or --sync, not both"),
        (("--all", "--latest", "0"), "--latest takes 1 or more"),
        (("--all", "--deny", "a b"), "'a b' is not a project name pattern"),
        (("--all", "--python-version", "3.12"), "--python-version and --platform go together"),
        (("--all", "--bandwidth", "fast"), "--bandwidth: 'fast' is not a size"),
        (("--all", "-r", "requirements.txt"), "--all and --sync take an index name only"),
    ]:
        done = cli(server, "mirror", *args)
        assert done.returncode == 2, (args, done.stdout)
        assert message in done.stderr, (args, done.stderr)


def test_too_little_disk_stops_with_a_sentence(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    upstream.add(make_wheel("roomy", "1.0"))
    server = rennet_factory(upstream_url=upstream.url)

    done = cli(server, "mirror", "--all", "--min-free", "1000T")

    assert done.returncode == 1
    assert "stopped before roomy" in done.stdout and "free some space" in done.stdout
    assert upstream.count("/files/") == 0


def test_a_second_run_on_the_same_index_is_refused_while_one_runs(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    upstream.add(make_wheel("locked", "1.0"))
    server = rennet_factory(upstream_url=upstream.url)
    lock_path = server.data_dir / "run" / "mirror-pypi.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a run in progress holds it

        done = cli(server, "mirror", "--all", "--min-free", "0")

        assert done.returncode == 2
        assert "another `rennet mirror --all` or `--sync` of pypi is running" in done.stderr
    assert cli(server, "mirror", "--all", "--min-free", "0").returncode == 0


def test_an_upstream_without_a_project_list_is_said(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    server = rennet_factory(upstream_url=upstream.url)
    upstream.fault("/simple/$", "500")

    done = cli(server, "mirror", "--all", "--min-free", "0")

    assert done.returncode == 1
    assert "the upstream's project list could not be read: the upstream answered 500" in done.stdout


def test_a_file_reported_malicious_is_not_mirrored(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, tmp_path: Path
) -> None:
    bad, good = make_wheel("adv-thing", "1.0"), make_wheel("adv-thing", "0.9")
    upstream.add(bad, good)
    server = rennet_factory(upstream_url=upstream.url)
    record = {
        "id": "MAL-2026-0001",
        "modified": "2026-12-01T12:00:00Z",
        "summary": "malicious code",
        "details": "",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "adv-thing"}, "versions": ["1.0"]}],
    }
    (tmp_path / "mal.json").write_text(json.dumps(record))
    assert cli(server, "advisories", "import", str(tmp_path / "mal.json")).returncode == 0

    done = cli(server, "mirror", "--all", "--min-free", "0")

    assert done.returncode == 0, done.stderr
    assert "files: 1 fetched" in last_line(done.stdout)
    assert "1 file(s) withheld by the index's policy" in last_line(done.stdout)
    assert blob_path(server, good.sha256).is_file() and not blob_path(server, bad.sha256).is_file()
