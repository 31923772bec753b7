"""What real clients make of managed projects of a running server: pip skips yanked releases unless pinned,
finds nothing in a quarantined project, and twine shows why an archived project refuses an upload. The commands
and the HTTP API themselves are tested in tests/web/test_manage.py.

One server per module (per catalog): every test uses its own project names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.accounts import rennet_cli
from tests.support.dists import make_sdist, make_wheel
from tests.support.hosting import ALICE, hosted_server, upload
from tests.support.installers import clean_env, installed_version, pip_install
from tests.support.pages import json_files as files
from tests.support.server import LocalServer

server = hosted_server()


def test_pip_skips_what_the_command_line_yanked(server: LocalServer, tmp_path: Path) -> None:
    old, new, new_sdist = make_wheel("yanky", "1.0"), make_wheel("yanky", "2.0"), make_sdist("yanky", "2.0")
    upload(server, old, new, new_sdist)
    done = rennet_cli(server, "yank", "local", "yanky", "2.0", "--reason", "broken <build>")
    assert done.returncode == 0, done.stderr

    chosen = pip_install(server.url + "/local/simple/", "yanky", target=tmp_path / "any")
    assert chosen.returncode == 0, chosen.stderr
    assert installed_version(tmp_path / "any", "yanky") == "1.0"
    pinned = pip_install(server.url + "/local/simple/", "yanky==2.0", target=tmp_path / "pinned")
    assert pinned.returncode == 0, pinned.stderr
    assert installed_version(tmp_path / "pinned", "yanky") == "2.0"

    undone = rennet_cli(server, "unyank", "local", "yanky", new.filename)
    assert undone.returncode == 0, undone.stderr
    latest = pip_install(server.url + "/local/simple/", "yanky", target=tmp_path / "latest")
    assert latest.returncode == 0, latest.stderr
    assert installed_version(tmp_path / "latest", "yanky") == "2.0"


def test_pip_finds_nothing_in_a_quarantined_project(server: LocalServer, tmp_path: Path) -> None:
    wheel = make_wheel("quar", "1.0")
    upload(server, wheel)
    assert rennet_cli(server, "status", "local", "quar", "quarantined", "--reason", "malware found").returncode == 0
    installed = pip_install(server.url + "/simple/", "quar", target=tmp_path / "t")
    assert installed.returncode != 0
    assert installed_version(tmp_path / "t", "quar") is None

    assert rennet_cli(server, "status", "local", "quar", "active").returncode == 0
    again = pip_install(server.url + "/simple/", "quar", target=tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert installed_version(tmp_path / "again", "quar") == "1.0"


def test_twine_shows_why_an_archived_project_refuses_an_upload(server: LocalServer, tmp_path: Path) -> None:
    wheel, newer = make_wheel("archy", "1.0"), make_wheel("archy", "1.1")
    upload(server, wheel)
    assert rennet_cli(server, "status", "local", "archy", "archived", "--reason", "done").returncode == 0
    (tmp_path / newer.filename).write_bytes(newer.data)
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar", "--verbose",
         "--repository-url", server.url + "/local/", "-u", ALICE[0], "-p", ALICE[1], str(tmp_path / newer.filename)],
        capture_output=True, text=True, env=clean_env(), timeout=120,
    )  # fmt: skip
    assert twine.returncode != 0
    assert "archived" in twine.stdout + twine.stderr
    assert set(files(server, "/local/simple/archy/")) == {wheel.filename}
