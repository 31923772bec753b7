"""Dependency confusion with real installers: pip and uv install the private `acme-secret` 1.0 through every
group that holds it, never the public 9.0, unless a group opts in (the group rules themselves are tested over
HTTP in tests/web/test_groups.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.groups import CONFIG, PRIVATE, PUBLIC
from tests.support.hosting import hosted_server
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.server import LocalServer
from tests.support.upstream import FakeUpstream

server = hosted_server(CONFIG, upstream=(PUBLIC,), uploads=(PRIVATE,))


def test_installers_never_get_the_public_files_of_a_private_name(
    server: LocalServer, module_upstream: FakeUpstream, tmp_path: Path
) -> None:
    pip = pip_install(server.simple, "acme-secret", target=tmp_path / "pip")
    assert pip.returncode == 0, pip.stderr
    assert installed_version(tmp_path / "pip", "acme_secret") == "1.0"
    uv = uv_install(
        f"{server.url}/proxyfirst/simple/", "acme-secret", target=tmp_path / "uv", cache_dir=tmp_path / "uv-cache"
    )
    assert uv.returncode == 0, uv.stderr
    assert installed_version(tmp_path / "uv", "acme_secret") == "1.0"
    # A pin on the public version finds nothing rather than the public file.
    pinned = pip_install(server.simple, "acme-secret==9.0", target=tmp_path / "pinned")
    assert pinned.returncode != 0
    assert installed_version(tmp_path / "pinned", "acme_secret") is None

    # The public file was never even fetched, nor was PyPI asked about the private name through these groups.
    assert module_upstream.count(f"/files/{PUBLIC.filename}") == 0
    assert module_upstream.count("/simple/acme-secret/") == 0


def test_a_group_that_allows_the_upstream_installs_the_public_release(
    server: LocalServer, module_upstream: FakeUpstream, tmp_path: Path
) -> None:
    pip = pip_install(f"{server.url}/mixed/simple/", "acme-secret", target=tmp_path / "pip")
    assert pip.returncode == 0, pip.stderr
    assert installed_version(tmp_path / "pip", "acme_secret") == "9.0"
    assert module_upstream.count(f"/files/{PUBLIC.filename}") >= 1, "fetched through the group that allows it"
