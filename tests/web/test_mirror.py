"""`rennet mirror`: prefetch what lock files and requirements need from a fake upstream.

The command runs in-process (`cli`) on the data directory and catalog of an in-process server, which runs
meanwhile. Installing what it fetched with pip and uv, the upstream gone: tests/e2e/test_mirror.py; the mirror
service on its own: tests/service/test_mirror.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.databases import Database
from tests.support.dists import Dist, make_sdist, make_wheel
from tests.support.lockfiles import fetched, pylock, uv_lock, write
from tests.support.server import LocalServer
from tests.support.store import blob_path, cli
from tests.support.upstream import FakeUpstream

LINUX_311 = ("--python-version", "3.11", "--platform", "manylinux_2_28_x86_64")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def summary(self) -> str:
        return self.out.strip().splitlines()[-1]


@dataclass
class Runner:
    """Runs `rennet mirror` on a server's data directory and catalog, against its upstream."""

    server: LocalServer
    config: str | None = None  # TOML for the command instead of the server's

    def __call__(self, *args: str) -> Run:
        done = cli(self.server, "mirror", *args, config=self.config)
        return Run(done.returncode, done.stdout, done.stderr)

    def held(self, dist: Dist) -> bool:
        return blob_path(self.server, dist.sha256).is_file()


@pytest.fixture
def mirror(rennet: LocalServer) -> Runner:
    return Runner(rennet)


# -- requirements, resolved -----------------------------------------------------------------------------------------


@pytest.fixture
def chain(upstream: FakeUpstream) -> dict[str, Dist]:
    """a -> b -> c, where b needs c only before Python 3.12 and winonly only on Windows."""
    dists = {
        "a": make_wheel("chain-a", "1.0", requires=("chain-b>=2",)),
        "b": make_wheel("chain-b", "2.1", requires=('chain-c; python_version < "3.12"', 'winonly; os_name == "nt"')),
        "c": make_wheel("chain-c", "0.5"),
        "winonly": make_wheel("winonly", "1.0"),
    }
    upstream.add(
        *dists.values(), make_wheel("chain-b", "1.0"), make_wheel("chain-a", "0.9"), make_sdist("chain-a", "1.0")
    )
    return dists


def test_unpinned_requirements_follow_dependencies_and_their_markers(
    mirror: Runner, upstream: FakeUpstream, chain: dict[str, Dist]
) -> None:
    done = mirror("chain-a", *LINUX_311)
    assert done.code == 0, done.err
    assert fetched(upstream) == {chain[k].filename for k in ("a", "b", "c")}
    # Dependencies come from the PEP 658 metadata: each wheel is downloaded once, for itself.
    for key in ("a", "b", "c"):
        assert upstream.requests[f"/files/{chain[key].filename}.metadata"] == 1
        assert upstream.requests[f"/files/{chain[key].filename}"] == 1


def test_markers_are_evaluated_per_target(mirror: Runner, upstream: FakeUpstream, chain: dict[str, Dist]) -> None:
    done = mirror(
        "chain-a", "--python-version", "3.12", "--platform", "manylinux_2_28_x86_64", "--platform", "win_amd64"
    )
    assert done.code == 0, done.err
    assert fetched(upstream) == {chain[k].filename for k in ("a", "b", "winonly")}


def test_without_pep_658_metadata_the_chosen_wheels_are_read(rennet_factory: Callable[..., LocalServer]) -> None:
    bare = FakeUpstream(metadata=False).start()
    try:
        bare.add(
            make_wheel("bare-a", "1.0", requires=("bare-b",)),
            make_wheel("bare-b", "1.0"),
            make_wheel("bare-b", "0.1"),
        )
        done = Runner(rennet_factory(upstream_url=bare.url))("bare-a", *LINUX_311)
        assert done.code == 0, done.err
        assert fetched(bare) == {"bare_a-1.0-py3-none-any.whl", "bare_b-1.0-py3-none-any.whl"}
        assert all(count == 1 for path, count in bare.requests.items() if path.startswith("/files/"))
    finally:
        bare.stop()


def test_no_deps_mirrors_the_named_projects_only(
    mirror: Runner, upstream: FakeUpstream, chain: dict[str, Dist]
) -> None:
    done = mirror("chain-a", "chain-b<2", "--no-deps", *LINUX_311)
    assert done.code == 0, done.err
    assert fetched(upstream) == {chain["a"].filename, "chain_b-1.0-py3-none-any.whl"}
    assert upstream.count("/files/chain_a-1.0-py3-none-any.whl.metadata") == 1  # held for installers, not read


def test_constraints_and_included_files(
    mirror: Runner, upstream: FakeUpstream, chain: dict[str, Dist], tmp_path: Path
) -> None:
    write(tmp_path / "constraints.txt", "chain-a<1\n")
    write(tmp_path / "base.txt", "-c constraints.txt\nchain-a\n")
    done = mirror("-r", str(write(tmp_path / "requirements.txt", "-r base.txt\n")), "--no-deps", *LINUX_311)
    assert done.code == 0, done.err
    assert fetched(upstream) == {"chain_a-0.9-py3-none-any.whl"}


def test_all_files_of_the_chosen_versions(mirror: Runner, upstream: FakeUpstream) -> None:
    wanted = [
        make_wheel("every", "2.0"),
        make_wheel("every", "2.0", tag="cp311-cp311-win_amd64"),
        make_sdist("every", "2.0"),
    ]
    upstream.add(*wanted, make_wheel("every", "1.0"), make_sdist("every", "1.0"))
    done = mirror("every", "--all-files", *LINUX_311)
    assert done.code == 0, done.err
    assert fetched(upstream) == {d.filename for d in wanted}
    assert done.summary.startswith("fetched 3 files")


def test_only_wheels_for_the_target_platforms(mirror: Runner, upstream: FakeUpstream) -> None:
    tags = [
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp311-cp311-win_amd64",
        "cp311-cp311-macosx_11_0_arm64",
        "cp311-cp311-musllinux_1_2_x86_64",
        "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp312-cp312-win_amd64",
    ]
    wheels = {tag: make_wheel("native", "1.0", tag=tag) for tag in tags}
    upstream.add(*wheels.values(), make_sdist("native", "1.0"))
    targets = ("--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "--platform", "win_amd64")
    done = mirror("native", *targets)
    assert done.code == 0, done.err
    assert fetched(upstream) == {wheels[tags[0]].filename, wheels[tags[1]].filename}


def test_sdists_only_where_no_wheel_installs_and_never_with_no_sdists(mirror: Runner, upstream: FakeUpstream) -> None:
    wheel, sdist = make_wheel("both", "1.0"), make_sdist("both", "1.0")
    source_only = make_sdist("source-only", "3.0")
    upstream.add(wheel, sdist, source_only)
    refused = mirror("both", "source-only", "--no-deps", "--no-sdists", *LINUX_311)
    assert refused.code == 1
    assert "no wheel of source-only 3.0 for cp311-manylinux_2_28_x86_64 and sdists are off" in refused.err
    assert fetched(upstream) == {wheel.filename}
    done = mirror("both", "source-only", "--no-deps", *LINUX_311)
    assert done.code == 0, done.err
    assert fetched(upstream) == {wheel.filename, source_only.filename}
    assert "already cached 1" in done.summary


def test_an_sdist_whose_dependencies_are_unknown_is_mirrored_and_reported(
    mirror: Runner, upstream: FakeUpstream
) -> None:
    upstream.add(make_sdist("oldstyle", "1.0"))
    done = mirror("oldstyle", *LINUX_311)
    assert done.code == 1
    assert "dependencies of oldstyle 1.0 unknown: the sdist's PKG-INFO has metadata version 2.1" in done.err
    assert fetched(upstream) == {"oldstyle-1.0.tar.gz"}


# -- broken inputs: per-item errors, the rest is mirrored ------------------------------------------------------------


def test_broken_items_are_reported_and_the_good_ones_mirrored(
    mirror: Runner, upstream: FakeUpstream, tmp_path: Path
) -> None:
    good = [make_wheel("fine", "1.0"), make_wheel("locked-ok", "2.0"), make_wheel("pylocked-ok", "1.0")]
    pinned, tampered, wrong = (
        make_wheel("pinned", "1.0"),
        make_wheel("tampered", "1.0"),
        make_wheel("wrongbytes", "1.0"),
    )
    upstream.add(*good, pinned, tampered, wrong)
    upstream.fault(f"/files/{wrong.filename}$", "wrong-bytes")
    requirements = write(tmp_path / "requirements.txt", "fine\npinned==9.9\nwrongbytes\n")
    lock = write(tmp_path / "uv.lock", uv_lock(upstream, good[1], git=("from-git",)))
    other = pylock(upstream, good[2], tampered, sha256={tampered.filename: "0" * 64})
    pylock_file = write(tmp_path / "pylock.toml", other)

    done = mirror(
        "no-such-project", "-r", str(requirements), "--uv-lock", str(lock), "--pylock", str(pylock_file), *LINUX_311
    )

    assert done.code == 1
    errors = done.err
    assert "no project named 'no-such-project' in pypi" in errors
    assert "no version of pinned satisfies ==9.9 (newest is 1.0)" in errors
    assert "uv.lock: package[1] (from-git): comes from a git checkout (https://git.example.invalid/from-git" in errors
    assert (
        f"{tampered.filename} (tampered 1.0 from {pylock_file}): the lock file's sha256 {'0' * 64} differs" in errors
    )
    assert f"failed {wrong.filename}: {wrong.filename} does not match its published hash" in errors
    assert done.summary.startswith("fetched 3 files")
    assert "failed 1 in" in done.summary and "4 item(s) could not be mirrored" in done.summary
    assert all(mirror.held(d) for d in good)
    assert not mirror.held(wrong) and not mirror.held(tampered)
    assert upstream.requests[f"/files/{tampered.filename}"] == 0, "a lock entry the index contradicts is not fetched"


def test_a_file_the_index_does_not_list_and_unreadable_inputs(
    mirror: Runner, upstream: FakeUpstream, tmp_path: Path
) -> None:
    gone = make_wheel("vanished", "1.0")
    upstream.add(make_wheel("vanished", "2.0"))
    lock = write(tmp_path / "pylock.toml", pylock(upstream, gone))
    broken = write(tmp_path / "uv.lock", "version = 1\n[[package]\n")
    done = mirror("--pylock", str(lock), "--uv-lock", str(broken), "-r", str(tmp_path / "missing.txt"))
    assert done.code == 1
    assert f"{gone.filename} (vanished 1.0 from {lock}): pypi does not list this file" in done.err
    assert f"{broken}: not valid TOML" in done.err
    assert f"cannot read {tmp_path / 'missing.txt'}" in done.err
    assert fetched(upstream) == set()


def test_a_hash_pin_the_index_contradicts(mirror: Runner, upstream: FakeUpstream, tmp_path: Path) -> None:
    dist = make_wheel("hashpin", "1.0")
    upstream.add(dist)
    requirements = write(tmp_path / "requirements.txt", f"hashpin==1.0 --hash=sha256:{'1' * 64}\n")
    done = mirror("-r", str(requirements), *LINUX_311)
    assert done.code == 1
    assert "no file of hashpin==1.0 matches the pinned hashes" in done.err
    assert fetched(upstream) == set()


# -- resuming --------------------------------------------------------------------------------------------------------


def test_a_second_run_fetches_nothing_new_and_a_failed_file_is_retried(
    mirror: Runner, upstream: FakeUpstream, chain: dict[str, Dist], tmp_path: Path
) -> None:
    flaky = make_wheel("flaky", "1.0")
    upstream.add(flaky)
    upstream.fault(f"/files/{flaky.filename}$", "truncate")
    lock = write(tmp_path / "pylock.toml", pylock(upstream, chain["c"]))
    args = ("chain-a", "flaky", "--pylock", str(lock), *LINUX_311)

    first = mirror(*args)
    assert first.code == 1 and "failed 1" in first.summary
    before = upstream.count("/files/")

    upstream.fault(f"/files/{flaky.filename}$", None)
    second = mirror(*args)
    assert second.code == 0, second.err
    assert second.summary.startswith("fetched 1 files")
    assert "already cached 3, failed 0" in second.summary
    assert upstream.requests[f"/files/{flaky.filename}.metadata"] == 1  # held since the first run
    assert upstream.count("/files/") == before + 1  # the retried wheel

    third = mirror(*args)
    assert third.code == 0, third.err
    assert third.summary.startswith("fetched 0 files (0.0 MB), already cached 4, failed 0")
    assert upstream.count("/files/") == before + 1


# -- which index ----------------------------------------------------------------------------------------------------


def test_through_a_group_its_rules_hold(mirror: Runner, upstream: FakeUpstream, tmp_path: Path) -> None:
    """A project the hosted member holds is never taken from the upstream, even when it has a newer one."""
    private, public = make_wheel("acme-secret", "1.0"), make_wheel("public-lib", "1.0")
    upstream.add(make_wheel("acme-secret", "9.0"), public)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / private.filename).write_bytes(private.data)
    imported = cli(mirror.server, "import", str(tmp_path / "private"), "--index", "local")
    assert imported.returncode == 0, imported.stderr

    done = mirror("acme-secret", "public-lib", "--index", "default", *LINUX_311)

    assert done.code == 0, done.err
    assert "already cached 1" in done.summary and done.summary.startswith("fetched 1 files")
    assert fetched(upstream) == {public.filename}
    assert upstream.requests["/simple/acme-secret/"] == 0


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory, database: Database) -> Iterator[tuple[Runner, FakeUpstream]]:
    """A server (and its upstream) for commands refused before anything happens: one for all of them."""
    upstream = FakeUpstream().start()
    upstream.add(make_wheel("x", "1.0"))
    with database.server_catalog() as url:
        server = LocalServer(
            tmp_path_factory.mktemp("refusing") / "data",
            upstream_url=upstream.url,
            config='[index.private-only]\ntype = "group"\nmembers = ["local"]\n',
            database_url=url,
        ).start()
        yield Runner(server), upstream
        server.stop()
    upstream.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--index", "local", "x"), "local is a hosted index: mirror into a proxy index"),
        (("--index", "nowhere", "x"), "there is no index named 'nowhere'"),
        (("--index", "private-only", "x"), "group private-only has no proxy member"),
        ((), "nothing to mirror"),
        (("--python-version", "3", "x"), "'3' is not a Python version"),
        (("--platform", "amiga", "x"), "unsupported platform 'amiga'"),
        (("--concurrency", "0", "x"), "--concurrency takes 1 to 64"),
    ],
)
def test_refused_before_anything_happens(
    refusing: tuple[Runner, FakeUpstream], args: tuple[str, ...], message: str
) -> None:
    mirror, upstream = refusing
    refused = mirror(*args)
    assert refused.code == 2, refused.err
    assert message in refused.err
    assert refused.out == ""
    assert sum(upstream.requests.values()) == 0, "nothing was asked of the upstream"
    assert not mirror.server.blobs()
