"""Real installers against a private default group of a real `rennet serve`: pip and uv log in with credentials in
the URL or from netrc, and get nothing without them; the password shows nowhere in the whole output of the server
process (an in-process server's log holds only the records of its own threads). The rules themselves are tested
over HTTP in tests/web/test_auth.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support.accounts import add_user
from tests.support.dists import make_wheel
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.server import RennetServer
from tests.support.uploads import post_upload
from tests.support.upstream import FakeUpstream

PASSWORDS = {"alice": "alice-Secret-0001", "bob": "bob-Secret-0002"}
CONFIG = """
[index.team]
type = "hosted"
private = true
read = ["bob"]
upload = ["alice"]

[index.local]
type = "hosted"
upload = ["alice"]

[index.default]
type = "group"
members = ["team", "local", "pypi"]
private = true
read = ["alice", "bob"]
"""
KEYRING_OFF = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def test_pip_and_uv_install_from_a_private_default_group(
    process_factory: Callable[..., RennetServer], upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.add(make_wheel("publicdep", "1.0"))
    server = process_factory(config=CONFIG, upstream_url=upstream.url)
    for user, password in PASSWORDS.items():
        add_user(server, user, password)
    teamlib = make_wheel("teamlib", "1.0", requires=("publicdep",))
    assert post_upload(server.url + "/team/", teamlib, auth=("alice", PASSWORDS["alice"])).status_code == 200
    host = server.url.removeprefix("http://")
    with_password = f"http://bob:{PASSWORDS['bob']}@{host}/simple/"

    anonymous = pip_install(server.simple, "teamlib", target=tmp_path / "anon", env=KEYRING_OFF)
    assert anonymous.returncode != 0
    server.wait_for_log('"GET /simple/teamlib/" 401')
    assert installed_version(tmp_path / "anon", "teamlib") is None

    pip_url = pip_install(with_password, "teamlib", target=tmp_path / "pip-url", env=KEYRING_OFF)
    assert pip_url.returncode == 0, pip_url.stderr
    assert installed_version(tmp_path / "pip-url", "teamlib") == "1.0"
    assert installed_version(tmp_path / "pip-url", "publicdep") == "1.0"

    uv_url = uv_install(with_password, "teamlib", target=tmp_path / "uv-url", cache_dir=tmp_path / "uv1")
    assert uv_url.returncode == 0, uv_url.stderr
    assert installed_version(tmp_path / "uv-url", "teamlib") == "1.0"

    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1\nlogin bob\npassword {PASSWORDS['bob']}\n")
    netrc.chmod(0o600)
    env = {"NETRC": str(netrc), "HOME": str(tmp_path)} | KEYRING_OFF
    pip_netrc = pip_install(server.simple, "teamlib", target=tmp_path / "pip-netrc", env=env)
    assert pip_netrc.returncode == 0, pip_netrc.stderr
    assert installed_version(tmp_path / "pip-netrc", "teamlib") == "1.0"
    uv_netrc = uv_install(server.simple, "teamlib", target=tmp_path / "uv-netrc", cache_dir=tmp_path / "uv2", env=env)
    assert uv_netrc.returncode == 0, uv_netrc.stderr
    assert installed_version(tmp_path / "uv-netrc", "publicdep") == "1.0"

    # Access lines go out in batches: once a last request's line is there, every line before it is too.
    assert server.get("/simple/", auth=("bob", PASSWORDS["bob"])).status_code == 200
    server.wait_for_access("/simple/")
    assert PASSWORDS["bob"] not in server.log()
