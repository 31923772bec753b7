"""pip and uv must fail, not install, when the upstream sends wrong or broken files; rennet keeps nothing of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dists import Dist, make_wheel
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.server import RennetServer
from tests.support.store import wait_until
from tests.support.upstream import FakeUpstream

# Larger than what rennet holds back until a file is verified: clients receive most bytes before the failure.
PADDING = 400_000
NO_RETRIES = {"UV_HTTP_RETRIES": "0"}


def _install(installer: str, rennet: RennetServer, requirement: str, tmp_path: Path, name: str) -> tuple[int, str]:
    # No retries: each would fail the same way, after a back-off that only makes the test slow.
    if installer == "pip":
        result = pip_install(rennet.simple, requirement, target=tmp_path / name, args=("--retries", "0"))
    else:
        cache = tmp_path / f"{name}-cache"
        result = uv_install(rennet.simple, requirement, target=tmp_path / name, cache_dir=cache, env=NO_RETRIES)
    return result.returncode, result.stdout + result.stderr


def _broken(upstream: FakeUpstream, fault: str, project: str) -> Dist:
    wheel = make_wheel(project, "1.0", padding=PADDING)
    upstream.add(wheel)
    upstream.fault(f"/files/{wheel.filename}$", fault)  # the wheel only: its .metadata stays good
    return wheel


@pytest.mark.parametrize("installer", ["pip", "uv"])
@pytest.mark.parametrize("fault", ["wrong-bytes", "truncate"])
def test_installers_refuse_a_bad_file(
    upstream: FakeUpstream, rennet: RennetServer, tmp_path: Path, installer: str, fault: str
) -> None:
    wheel = _broken(upstream, fault, "fragile")
    code, output = _install(installer, rennet, "fragile", tmp_path, "bad")
    assert code != 0, output
    assert installed_version(tmp_path / "bad", "fragile") is None
    assert wheel.sha256 not in rennet.blobs()
    # The installer may give up (and retry) before rennet's own transfer has ended and removed its partial file.
    wait_until(lambda: not rennet.partial_files(), "no partial file is left")
    assert upstream.answered(f"/files/{wheel.filename}.metadata", 200), "the metadata was fine"
    assert upstream.count(f"/files/{wheel.filename}") > upstream.count(f"/files/{wheel.filename}.metadata"), (
        "the installer got as far as the file itself"
    )

    upstream.fault(f"/files/{wheel.filename}$", None)
    code, output = _install(installer, rennet, "fragile", tmp_path, "good")
    assert code == 0, output + rennet.log()[-2000:]
    assert installed_version(tmp_path / "good", "fragile") == "1.0"
    wait_until(lambda: wheel.sha256 in rennet.blobs(), "the verified file becomes a blob")
