"""`rennet mirror`, then real pip and uv install what it fetched with the upstream gone: through the `rennet serve`
whose data directory it filled while it ran, and through the same server restarted offline.

The command runs as a process of its own here (exit code and output as a script sees them); what it fetches and
reports in every case: tests/web/test_mirror.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.dists import Dist, make_sdist, make_wheel
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.lockfiles import fetched, hashed_requirements, pylock, uv_lock, write
from tests.support.server import RennetServer
from tests.support.store import blob_path, cli
from tests.support.upstream import FakeUpstream

Factory = Callable[..., RennetServer]


def summary(stdout: str) -> str:
    return stdout.strip().splitlines()[-1]


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


def test_lock_files_and_hashed_requirements_install_without_the_upstream(
    process_factory: Factory, upstream: FakeUpstream, locked_sets: dict[str, list[Dist]], tmp_path: Path
) -> None:
    server = process_factory(upstream_url=upstream.url)
    pylock_file = write(tmp_path / "pylock.toml", pylock(upstream, *locked_sets["pylock"]))
    uv_lock_file = write(tmp_path / "uv.lock", uv_lock(upstream, *locked_sets["uvlock"]))
    requirements = write(tmp_path / "requirements.txt", hashed_requirements(*locked_sets["hashed"]))

    done = cli(
        server, "mirror", "--pylock", str(pylock_file), "--uv-lock", str(uv_lock_file), "-r", str(requirements)
    )

    assert done.returncode == 0, done.stderr
    assert summary(done.stdout).startswith("fetched 6 files (")
    assert "already cached 0, failed 0" in summary(done.stdout)
    wanted = {d.filename for dists in locked_sets.values() for d in dists}
    assert fetched(upstream) == wanted
    assert all(blob_path(server, d.sha256).is_file() for dists in locked_sets.values() for d in dists)

    upstream.stop()  # the server mirrored into, still running, has what the installers need
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


def test_an_offline_server_installs_what_was_mirrored(
    process_factory: Factory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    app, lib = make_wheel("off-app", "1.0", requires=("off-lib>=1",)), make_wheel("off-lib", "1.2")
    upstream.add(app, lib, make_wheel("off-lib", "0.9"))
    server = process_factory(upstream_url=upstream.url)
    done = cli(server, "mirror", "off-app")
    assert done.returncode == 0, done.stderr
    assert fetched(upstream) == {app.filename, lib.filename}
    upstream.stop()
    server.restart(offline=True)
    by_pip = pip_install(server.simple, "off-app", target=tmp_path / "pip")
    assert by_pip.returncode == 0, by_pip.stderr
    by_uv = uv_install(server.simple, "off-app", target=tmp_path / "uv", cache_dir=tmp_path / "cache")
    assert by_uv.returncode == 0, by_uv.stderr
    for target in ("pip", "uv"):
        assert installed_version(tmp_path / target, "off_app") == "1.0"
        assert installed_version(tmp_path / target, "off_lib") == "1.2"
