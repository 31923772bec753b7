"""What `rennet export` prints is one line per message, whatever the width of the terminal (or of none)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support.dists import make_wheel
from tests.support.server import LocalServer
from tests.support.store import cli, wait_until_held
from tests.support.upstream import FakeUpstream


def test_the_install_line_is_not_wrapped(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, tmp_path: Path
) -> None:
    wheel = make_wheel("exported", "1.0")
    upstream.add(wheel)
    server = rennet_factory(upstream_url=upstream.url)
    assert server.get(f"/pypi/files/exported/{wheel.filename}").status_code == 200
    wait_until_held(server, wheel.filename, wheel.sha256)
    tree = tmp_path / ("a-directory-with-a-long-name-" * 4) / "tree"
    done = cli(server, "export", str(tree), "--index", "pypi")
    assert done.returncode == 0, done.stderr
    line = f"install with: pip install --index-url {tree.absolute().as_uri()}/simple/ ..."
    assert len(line) > 80
    assert line in done.stderr.splitlines(), done.stderr
