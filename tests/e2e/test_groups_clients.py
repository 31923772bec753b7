"""Dependency confusion with real installers: pip and uv install the private `acme-secret` 1.0 through every
group that holds it, never the public 9.0, unless a group opts in (the group rules themselves are tested over
HTTP in tests/web/test_groups.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.accounts import serving
from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.server import LocalServer
from tests.support.uploads import post_upload
from tests.support.upstream import FakeUpstream

ALICE = ("alice", "alice-groups-0001")
CONFIG = """
[index.local]
type = "hosted"
upload = ["alice"]

# "default" is the built-in group of local and pypi, in that order.

[index.proxyfirst]
type = "group"
members = ["pypi", "local"]

[index.mixed]
type = "group"
members = ["local", "pypi"]
allow_upstream = ["Acme_Secret"]
"""
PRIVATE = make_wheel("acme-secret", "1.0")
PUBLIC = make_wheel("acme-secret", "9.0")  # the attacker's upload to PyPI


@pytest.fixture(scope="module")
def upstream(database: Database) -> Iterator[FakeUpstream]:
    """One per catalog: the tests count what the upstream was asked."""
    fake = FakeUpstream().start()
    fake.add(PUBLIC)
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream, database: Database
) -> Iterator[LocalServer]:
    base = tmp_path_factory.mktemp("groups")
    with serving(base, CONFIG, [ALICE], upstream_url=upstream.url, database=database) as rennet:
        assert post_upload(rennet.url + "/local/", PRIVATE, auth=ALICE).status_code == 200
        yield rennet


def test_installers_never_get_the_public_files_of_a_private_name(
    server: LocalServer, upstream: FakeUpstream, tmp_path: Path
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
    assert upstream.count(f"/files/{PUBLIC.filename}") == 0
    assert upstream.count("/simple/acme-secret/") == 0


def test_a_group_that_allows_the_upstream_installs_the_public_release(
    server: LocalServer, upstream: FakeUpstream, tmp_path: Path
) -> None:
    pip = pip_install(f"{server.url}/mixed/simple/", "acme-secret", target=tmp_path / "pip")
    assert pip.returncode == 0, pip.stderr
    assert installed_version(tmp_path / "pip", "acme_secret") == "9.0"
    assert upstream.count(f"/files/{PUBLIC.filename}") >= 1, "fetched through the group that allows it"
