"""The README's walk-through of a filtered mirror, with real processes: `rennet mirror --all` of a local upstream
into a running `rennet serve`, changes upstream (a new version, a yank, a removed project), `rennet mirror --sync`,
`rennet export`, then real pip and uv install from the exported tree with the upstream gone.

What each step does in every case: tests/service/test_full_mirror.py (sync logic) and
tests/web/test_full_mirror_command.py (the command).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tests.support.dists import make_sdist, make_wheel
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.server import RennetServer
from tests.support.store import cli
from tests.support.upstream import FakeUpstream

CONFIG = """
[index.pypi]
mirror_allow = ["fm-*"]
mirror_deny = ["fm-skip*"]
mirror_latest = 2
mirror_prereleases = false
mirror_sdists = false
"""


def test_a_filtered_mirror_synced_exported_and_installed_from(
    process_factory: Callable[..., RennetServer], upstream: FakeUpstream, tmp_path: Path
) -> None:
    app = {v: make_wheel("fm-app", v, requires=("fm-lib>=1",)) for v in ("1.0", "2.0", "3.0b1")}
    lib_old, lib_new = make_wheel("fm-lib", "1.0"), make_wheel("fm-lib", "1.1")
    dropped, skipped, other = make_wheel("fm-dropped", "1.0"), make_wheel("fm-skipped", "1.0"), make_wheel("x", "1")
    upstream.add(*app.values(), make_sdist("fm-app", "2.0"), lib_old, lib_new, dropped, skipped, other)
    server = process_factory(upstream_url=upstream.url, config=CONFIG)

    made = cli(server, "mirror", "--all", "pypi", "--min-free", "0", "--concurrency", "4")

    assert made.returncode == 0, made.stdout + made.stderr
    assert "5 projects listed, 3 in scope: 3 synced" in made.stdout
    assert "files: 5 fetched" in made.stdout  # fm-app 1.0 and 2.0, fm-lib 1.0 and 1.1, fm-dropped 1.0

    new_app = make_wheel("fm-app", "2.1", requires=("fm-lib>=1",))
    upstream.add(new_app)
    upstream.replace(replace(lib_new, yanked="broken"))
    upstream.drop_project("fm-dropped")

    synced = cli(server, "mirror", "--sync", "pypi", "--min-free", "0")

    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "4 projects listed, 2 in scope: 2 synced, 0 unchanged, 1 removed, 0 failed" in synced.stdout
    assert "files: 1 fetched" in synced.stdout and "1 yanked, 1 pruned" in synced.stdout

    tree = tmp_path / "tree"
    exported = cli(server, "export", str(tree), "--index", "pypi")
    assert exported.returncode == 0, exported.stderr
    server.stop()
    upstream.stop()

    index_url = tree.as_uri() + "/simple/"
    by_pip = pip_install(index_url, "fm-app", target=tmp_path / "pip")
    assert by_pip.returncode == 0, by_pip.stdout + by_pip.stderr
    by_uv = uv_install(index_url, "fm-app", target=tmp_path / "uv", cache_dir=tmp_path / "uv-cache")
    assert by_uv.returncode == 0, by_uv.stdout + by_uv.stderr
    for target in ("pip", "uv"):
        assert installed_version(tmp_path / target, "fm_app") == "2.1"
        assert installed_version(tmp_path / target, "fm_lib") == "1.0", "the yanked 1.1 must stay unchosen"
    gone = pip_install(index_url, "fm-dropped", target=tmp_path / "gone")
    assert gone.returncode != 0
    assert not (tree / "simple" / "fm-skipped").exists()
