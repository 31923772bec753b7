"""A cooldown, a deny list and a snapshot URL with real installers: pip and uv install the release old enough,
never the one uploaded minutes ago nor a denied project, and what a snapshot held at its instant (the rules
themselves are tested in tests/service/test_policy.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.dists import make_wheel
from tests.support.hosting import hosted_server
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.server import LocalServer
from tests.support.upstream import FakeUpstream

SEASONED = make_wheel("cooled-pkg", "1.0")  # uploaded in 2024
FRESH = replace(
    make_wheel("cooled-pkg", "2.0"),
    upload_time=(datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
)
DENIED = make_wheel("denied-pkg", "1.0")

server = hosted_server('[index.pypi]\nmin_age = "7d"\ndeny = ["denied-pkg"]\n', upstream=(SEASONED, FRESH, DENIED))


def test_installers_get_the_release_past_the_cooldown_and_nothing_denied(
    server: LocalServer, module_upstream: FakeUpstream, tmp_path: Path
) -> None:
    pip = pip_install(server.simple, "cooled-pkg", target=tmp_path / "pip")
    assert pip.returncode == 0, pip.stderr
    assert installed_version(tmp_path / "pip", "cooled_pkg") == "1.0"
    uv = uv_install(server.simple, "cooled-pkg", target=tmp_path / "uv", cache_dir=tmp_path / "uv-cache")
    assert uv.returncode == 0, uv.stderr
    assert installed_version(tmp_path / "uv", "cooled_pkg") == "1.0"

    for requirement in ("cooled-pkg==2.0", "denied-pkg"):
        refused = pip_install(server.simple, requirement, target=tmp_path / requirement)
        assert refused.returncode != 0, requirement
        assert installed_version(tmp_path / requirement, requirement.partition("=")[0].replace("-", "_")) is None
    assert module_upstream.count(f"/files/{FRESH.filename}") == 0
    assert module_upstream.count(f"/files/{DENIED.filename}") == 0


def test_installers_take_a_snapshot_url_as_their_index(server: LocalServer, tmp_path: Path) -> None:
    """The release uploaded by the snapshot's instant installs; before any release, nothing does."""
    snapshot = f"{server.url}/pypi/snapshot/2025-01-01T00:00:00Z/simple/"
    pip = pip_install(snapshot, "cooled-pkg==1.0", target=tmp_path / "pip")
    assert pip.returncode == 0, pip.stderr
    assert installed_version(tmp_path / "pip", "cooled_pkg") == "1.0"
    uv = uv_install(snapshot, "cooled-pkg", target=tmp_path / "uv", cache_dir=tmp_path / "uv-cache")
    assert uv.returncode == 0, uv.stderr
    assert installed_version(tmp_path / "uv", "cooled_pkg") == "1.0"
    before = pip_install(f"{server.url}/pypi/snapshot/2023-01-01/simple/", "cooled-pkg", target=tmp_path / "old")
    assert before.returncode != 0, "nothing of cooled-pkg was uploaded before 2024"
    assert installed_version(tmp_path / "old", "cooled_pkg") is None
