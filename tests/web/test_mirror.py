"""`rennet mirror`: prefetch what lock files and requirements need from a fake upstream, then install offline.

The command runs in-process (`rennet.cli.main.main`); installs go through a real `rennet serve` on the same data
directory with the upstream stopped, so only what the mirror fetched can be installed.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from rennet.cli.main import main
from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.indexes import IndexKind
from rennet.domain.mirror.lockfiles import LockedFile
from rennet.domain.mirror.plan import MirrorOptions
from rennet.domain.mirror.targets import make_targets
from rennet.domain.names import canonical_name
from rennet.service.answers import LocalFile
from rennet.service.offline.mirror import LockedItem, Mirror, MirrorInputs
from rennet.service.runtime.pagecache import CachedPage
from tests.support.dists import Dist, make_sdist, make_wheel
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.server import RennetServer
from tests.support.upstream import FakeUpstream

_SETTINGS_VARIABLES = (
    "RENNET_CONFIG",
    "RENNET_DATA_DIR",
    "RENNET_UPSTREAM",
    "RENNET_HOST",
    "RENNET_PORT",
    "RENNET_WORKERS",
    "RENNET_LOG_LEVEL",
    "RENNET_OFFLINE",
    "RENNET_ACCESS_LOG",
    "RENNET_DATABASE_URL",
)
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
    """Runs `rennet mirror` on one data directory against the test's upstream."""

    data_dir: Path
    upstream: FakeUpstream
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    config: Path | None = None

    def __call__(self, *args: str) -> Run:
        for variable in _SETTINGS_VARIABLES:
            # main() writes its flags into RENNET_*: monkeypatch remembers them to put the environment back.
            self.monkeypatch.setenv(variable, "")
            self.monkeypatch.delenv(variable)
        extra = ["--config", str(self.config)] if self.config else []
        self.capsys.readouterr()
        code = main(["mirror", *args, "--data-dir", str(self.data_dir), "--upstream", self.upstream.url, *extra])
        out, err = self.capsys.readouterr()
        return Run(code, out, err)

    def held(self, dist: Dist) -> bool:
        sha = dist.sha256
        return (self.data_dir / "blobs" / sha[:2] / sha[2:4] / sha).is_file()


@pytest.fixture
def mirror(
    tmp_path: Path, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Runner:
    return Runner(tmp_path / "data", upstream, monkeypatch, capsys)


def fetched(upstream: FakeUpstream) -> set[str]:
    """Distribution files the upstream was asked for (not their .metadata)."""
    return {
        path.removeprefix("/files/")
        for path, count in upstream.requests.items()
        if path.startswith("/files/") and not path.endswith(".metadata") and count
    }


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def pylock(upstream: FakeUpstream, *dists: Dist, sha256: dict[str, str] | None = None) -> str:
    """A PEP 751 lock of the given wheels and sdists, with URLs of the fake upstream's files."""
    lines = ['lock-version = "1.0"', 'created-by = "tests"', ""]
    for dist in dists:
        digest = (sha256 or {}).get(dist.filename, dist.sha256)
        version = dist.filename.split("-")[1].removesuffix(".tar.gz")
        artifact = f'{{ url = "{upstream.file_url(dist.filename)}", hashes = {{ sha256 = "{digest}" }} }}'
        lines += ["[[packages]]", f'name = "{dist.project}"', f'version = "{version}"', f'index = "{upstream.url}"']
        lines.append(f"wheels = [{artifact}]" if dist.filename.endswith(".whl") else f"sdist = {artifact}")
        lines.append("")
    return "\n".join(lines)


def uv_lock(upstream: FakeUpstream, *dists: Dist, git: tuple[str, ...] = ()) -> str:
    """A uv.lock (version 1) of the given wheels, plus packages that come from a git repository."""
    lines = ["version = 1", "revision = 2", 'requires-python = ">=3.8"', ""]
    for dist in dists:
        version = dist.filename.split("-")[1]
        wheel = f'{{ url = "{upstream.file_url(dist.filename)}", hash = "sha256:{dist.sha256}", size = {len(dist.data)} }}'
        lines += ["[[package]]", f'name = "{dist.project}"', f'version = "{version}"']
        lines += [f'source = {{ registry = "{upstream.url}" }}', f"wheels = [{wheel}]", ""]
    for name in git:
        lines += ["[[package]]", f'name = "{name}"', 'version = "0.1.0"']
        lines += [f'source = {{ git = "https://git.example.invalid/{name}?rev=main#0123abcd" }}', ""]
    return "\n".join(lines)


def hashed_requirements(*dists: Dist) -> str:
    return "".join(f"{d.project}=={d.filename.split('-')[1]} --hash=sha256:{d.sha256}\n" for d in dists)


# -- lock files and hashed requirements, installed with no upstream ---------------------------------------------------


@pytest.fixture
def locked_sets(upstream: FakeUpstream) -> dict[str, list[Dist]]:
    sets = {
        "pylock": [make_wheel("p-one", "1.0", requires=("p-dep>=2",)), make_wheel("p-dep", "2.0")],
        "uvlock": [make_wheel("u-one", "1.0", requires=("u-dep",)), make_wheel("u-dep", "3.1")],
        "hashed": [make_wheel("r-one", "1.0", requires=("r-dep==2.0",)), make_wheel("r-dep", "2.0")],
    }
    for dists in sets.values():
        upstream.add(*dists)
    # Newer releases and sdists that nothing pins: the mirror must leave them alone.
    upstream.add(make_wheel("p-one", "1.1"), make_sdist("p-one", "1.0"), make_wheel("u-dep", "3.2"))
    upstream.add(make_wheel("r-dep", "2.1"))
    return sets


@pytest.mark.e2e
def test_lock_files_and_hashed_requirements_install_without_the_upstream(
    mirror: Runner, upstream: FakeUpstream, locked_sets: dict[str, list[Dist]], tmp_path: Path
) -> None:
    pylock_file = write(tmp_path / "pylock.toml", pylock(upstream, *locked_sets["pylock"]))
    uv_lock_file = write(tmp_path / "uv.lock", uv_lock(upstream, *locked_sets["uvlock"]))
    requirements = write(tmp_path / "requirements.txt", hashed_requirements(*locked_sets["hashed"]))

    done = mirror("--pylock", str(pylock_file), "--uv-lock", str(uv_lock_file), "-r", str(requirements))

    assert done.code == 0, done.err
    assert done.summary.startswith("fetched 6 files (")
    assert "already cached 0, failed 0" in done.summary
    wanted = {d.filename for dists in locked_sets.values() for d in dists}
    assert fetched(upstream) == wanted
    assert all(mirror.held(d) for dists in locked_sets.values() for d in dists)

    upstream.stop()
    server = RennetServer(tmp_path / "data", upstream_url=upstream.url).start()
    try:
        for name, dists in locked_sets.items():
            pins = [f"{d.project}=={d.filename.split('-')[1]}" for d in dists]
            args = ("-r", str(requirements)) if name == "hashed" else tuple(pins)
            by_pip = pip_install(server.simple, *args, target=tmp_path / f"pip-{name}")
            assert by_pip.returncode == 0, by_pip.stderr + server.log()[-3000:]
            by_uv = uv_install(server.simple, *args, target=tmp_path / f"uv-{name}", cache_dir=tmp_path / f"c-{name}")
            assert by_uv.returncode == 0, by_uv.stderr + server.log()[-3000:]
            for dist in dists:
                module, version = dist.filename.split("-")[:2]
                assert installed_version(tmp_path / f"pip-{name}", module) == version
                assert installed_version(tmp_path / f"uv-{name}", module) == version
    finally:
        server.stop()


@pytest.mark.e2e
def test_an_offline_server_installs_what_was_mirrored(mirror: Runner, upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.add(make_wheel("off-app", "1.0", requires=("off-lib>=1",)), make_wheel("off-lib", "1.2"))
    done = mirror("off-app")
    assert done.code == 0, done.err
    upstream.stop()
    server = RennetServer(tmp_path / "data", upstream_url=upstream.url, offline=True).start()
    try:
        by_pip = pip_install(server.simple, "off-app", target=tmp_path / "pip")
        assert by_pip.returncode == 0, by_pip.stderr
        by_uv = uv_install(server.simple, "off-app", target=tmp_path / "uv", cache_dir=tmp_path / "cache")
        assert by_uv.returncode == 0, by_uv.stderr
        assert installed_version(tmp_path / "uv", "off_lib") == "1.2"
    finally:
        server.stop()


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


def test_without_pep_658_metadata_the_chosen_wheels_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = FakeUpstream(metadata=False).start()
    try:
        bare.add(
            make_wheel("bare-a", "1.0", requires=("bare-b",)),
            make_wheel("bare-b", "1.0"),
            make_wheel("bare-b", "0.1"),
        )
        done = Runner(tmp_path / "data", bare, monkeypatch, capsys)("bare-a", *LINUX_311)
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
    mirror.monkeypatch.setenv("RENNET_DATA_DIR", "")  # restored after main() sets it
    assert main(["import", str(tmp_path / "private"), "--index", "local", "--data-dir", str(mirror.data_dir)]) == 0

    done = mirror("acme-secret", "public-lib", "--index", "default", *LINUX_311)

    assert done.code == 0, done.err
    assert "already cached 1" in done.summary and done.summary.startswith("fetched 1 files")
    assert fetched(upstream) == {public.filename}
    assert upstream.requests["/simple/acme-secret/"] == 0


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
    mirror: Runner, upstream: FakeUpstream, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    mirror.config = write(tmp_path / "rennet.toml", '[index.private-only]\ntype = "group"\nmembers = ["local"]\n')
    refused = mirror(*args)
    assert refused.code == 2
    assert message in refused.err
    assert sum(upstream.requests.values()) == 0


# -- the service on its own ------------------------------------------------------------------------------------------


class CountingIndex:
    """An index whose files are held at once, after a few turns of the event loop; it counts transfers in flight."""

    name = "fake"
    kind = IndexKind.PROXY

    def __init__(self, directory: Path, files: int) -> None:
        self.blob = directory / "blob"
        self.blob.write_bytes(b"x")
        wheels = [f"proj-1.{n}-py3-none-any.whl" for n in range(files)]
        digest = hashlib.sha256(b"x").hexdigest()
        self.page = ProjectPage(
            canonical_name("proj"), tuple(DistFile(w, "fake", {"sha256": digest}) for w in wheels)
        )
        self.in_flight = self.most = 0

    async def project_page(self, project: str) -> CachedPage:
        return CachedPage(self.page if project == "proj" else None, (), 0.0, None, message="no such project")

    async def open_file(self, project: str, filename: str) -> LocalFile:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        self.in_flight -= 1
        return LocalFile(self.blob, 1, hashlib.sha256(b"x").hexdigest())


@pytest.mark.parametrize("concurrency", [1, 3])
def test_transfers_are_bounded_by_the_concurrency(tmp_path: Path, concurrency: int) -> None:
    index = CountingIndex(tmp_path, files=12)
    locked = tuple(
        LockedItem(
            "pylock.toml",
            LockedFile(index.page.name, f.version, f.filename, f.hashes["sha256"], None, "wheel", None, None),
        )
        for f in index.page.files
    )
    options = MirrorOptions(make_targets(["3.11"], ["manylinux_2_28_x86_64"]))
    report = asyncio.run(Mirror(index, options, concurrency).run(MirrorInputs(locked=locked)))
    assert report.count("cached") == 12 and report.ok, report
    assert index.most == concurrency
