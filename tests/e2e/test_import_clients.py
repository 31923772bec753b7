"""`rennet import` next to a running server: what it imported, pip installs at once (what the import accepts,
refuses and reports is tested in tests/web/test_import.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support.accounts import rennet_cli
from tests.support.dists import make_sdist, make_wheel
from tests.support.hosting import UPLOADS
from tests.support.installers import installed_version, pip_install
from tests.support.server import LocalServer
from tests.support.upstream import FakeUpstream


def test_pip_installs_what_was_imported_while_the_server_runs(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, tmp_path: Path
) -> None:
    server = rennet_factory(config=UPLOADS, upstream_url=upstream.url)
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    for directory, dist in ((tree / "a", make_wheel("impa", "1.0")), (tree, make_sdist("impa", "1.0"))):
        (directory / dist.filename).write_bytes(dist.data)
    other = make_wheel("Imp.B", "2.0")
    (tree / other.filename).write_bytes(other.data)
    # Read the page first: what the server keeps in memory must not hide the import.
    assert server.get("/simple/impa/").status_code == 404

    done = rennet_cli(server, "import", str(tree), "--index", "local")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "imported 3, skipped 0, failed 0"

    installed = pip_install(server.simple, "impa", "imp.b", target=tmp_path / "target")
    assert installed.returncode == 0, installed.stderr
    assert installed_version(tmp_path / "target", "impa") == "1.0"
    assert installed_version(tmp_path / "target", "imp_b") == "2.0"
