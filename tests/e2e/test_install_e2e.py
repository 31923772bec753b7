"""pip and uv install through rennet: cold, warm, and with the upstream gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dists import make_sdist, make_wheel
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.server import RennetServer
from tests.support.store import wait_until_held
from tests.support.upstream import FakeUpstream


@pytest.fixture
def populated(upstream: FakeUpstream) -> FakeUpstream:
    upstream.add(
        make_wheel("alpha", "1.0"),
        make_wheel("alpha", "2.0", requires=("beta>=1",)),
        make_sdist("alpha", "2.0"),
        make_wheel("beta", "1.5"),
        make_wheel("Gamma.Lib", "0.3"),
    )
    return upstream


def _wait_until_held(rennet: RennetServer, upstream: FakeUpstream, filename: str) -> None:
    """An installer may finish once the bytes are verified; rennet records them right after: before a restart."""
    dist = upstream.find(filename)
    assert dist is not None
    wait_until_held(rennet, filename, dist.sha256)


def test_pip_cold_warm_and_upstream_down(populated: FakeUpstream, rennet: RennetServer, tmp_path: Path) -> None:
    cold = pip_install(rennet.simple, "alpha", "gamma-lib", target=tmp_path / "cold")
    assert cold.returncode == 0, cold.stderr
    assert installed_version(tmp_path / "cold", "alpha") == "2.0"
    assert installed_version(tmp_path / "cold", "beta") == "1.5"
    assert installed_version(tmp_path / "cold", "gamma_lib") == "0.3"
    downloads = populated.count("/files/")

    warm = pip_install(rennet.simple, "alpha", "gamma-lib", target=tmp_path / "warm")
    assert warm.returncode == 0, warm.stderr
    assert populated.count("/files/") == downloads, "a warm install must not fetch files again"

    populated.stop()
    rennet.restart()
    down = pip_install(rennet.simple, "alpha", "gamma-lib", target=tmp_path / "down")
    assert down.returncode == 0, down.stderr + rennet.log()
    assert installed_version(tmp_path / "down", "alpha") == "2.0"


def test_uv_cold_warm_and_upstream_down(populated: FakeUpstream, rennet: RennetServer, tmp_path: Path) -> None:
    cold = uv_install(rennet.simple, "alpha", target=tmp_path / "cold", cache_dir=tmp_path / "c1")
    assert cold.returncode == 0, cold.stderr
    assert installed_version(tmp_path / "cold", "alpha") == "2.0"

    warm = uv_install(rennet.simple, "alpha==1.0", target=tmp_path / "warm", cache_dir=tmp_path / "c2")
    assert warm.returncode == 0, warm.stderr
    assert installed_version(tmp_path / "warm", "alpha") == "1.0"

    populated.stop()
    down = uv_install(rennet.simple, "alpha", target=tmp_path / "down", cache_dir=tmp_path / "c3")
    assert down.returncode == 0, down.stderr + rennet.log()
    assert installed_version(tmp_path / "down", "beta") == "1.5"


def test_offline_mode_serves_only_cache(populated: FakeUpstream, rennet: RennetServer, tmp_path: Path) -> None:
    assert pip_install(rennet.simple, "beta", target=tmp_path / "a").returncode == 0
    before = sum(populated.requests.values())
    _wait_until_held(rennet, populated, "beta-1.5-py3-none-any.whl")
    rennet.restart(offline=True)
    again = pip_install(rennet.simple, "beta", target=tmp_path / "b")
    assert again.returncode == 0, again.stderr
    missing = pip_install(rennet.simple, "alpha", target=tmp_path / "c")
    assert missing.returncode != 0
    assert sum(populated.requests.values()) == before, "offline rennet must never contact the upstream"


def test_offline_pages_list_only_held_files(populated: FakeUpstream, rennet: RennetServer, tmp_path: Path) -> None:
    """Offline, a listed file that is not held would be chosen by pip and then fail: list only held files."""
    pinned = pip_install(rennet.simple, "alpha==1.0", "--no-deps", target=tmp_path / "pinned")
    assert pinned.returncode == 0, pinned.stderr
    online = rennet.get("/pypi/simple/alpha/").text
    assert "alpha-2.0-py3-none-any.whl" in online, "online, the upstream's whole page is listed"
    _wait_until_held(rennet, populated, "alpha-1.0-py3-none-any.whl")
    rennet.restart(offline=True)
    page = rennet.get("/pypi/simple/alpha/").text
    assert "alpha-1.0-py3-none-any.whl" in page
    assert "alpha-2.0" not in page
    latest = pip_install(rennet.simple, "alpha", "--no-deps", target=tmp_path / "offline")
    assert latest.returncode == 0, latest.stderr
    assert installed_version(tmp_path / "offline", "alpha") == "1.0"
