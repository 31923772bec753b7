"""Real publishing clients against rennet: twine, uv publish, poetry publish and pdm publish.

Every client runs with a throw-away HOME, no keyring, no configuration of its own, and proxies pointing at a
closed local port (loopback excepted), so nothing can reach a public index even by accident. One server per module
(per catalog): every test publishes its own project names.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.accounts import create_token
from tests.support.dists import Dist, make_sdist, make_wheel
from tests.support.hosting import ALICE, hosted_server
from tests.support.installers import clean_env, uv_binary
from tests.support.pages import JSON_V1
from tests.support.readme import readme_block
from tests.support.server import LocalServer

JSON = {"accept": JSON_V1}


# Uploads and installs with every client, on SQLite and on PostgreSQL through both drivers.
pytestmark = pytest.mark.drivers


# The default group asks its mirror about names it does not host: a reachable (fake) upstream that does not know
# them lets `uv publish --check-url` see a plain 404 for a new project.
server = hosted_server()


@pytest.fixture(scope="module")
def token(server: LocalServer) -> str:
    return create_token(server, "alice", index="local")


def tool(name: str) -> str:
    """A client installed with the test extra, next to this Python or on PATH; missing one is a failure."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is a test dependency: pip install -e '.[test]'"
    return found


def sealed_env(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return clean_env(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        ALL_PROXY="http://127.0.0.1:9",
        NO_PROXY="127.0.0.1,localhost",
        TWINE_NON_INTERACTIVE="1",
        PDM_CHECK_UPDATE="false",
        PDM_USE_VENV="false",
        PDM_PYTHON=sys.executable,
        POETRY_CONFIG_DIR=str(home / "poetry-config"),
        POETRY_CACHE_DIR=str(home / "poetry-cache"),
        POETRY_DATA_DIR=str(home / "poetry-data"),
        POETRY_KEYRING_ENABLED="false",
        NO_COLOR="1",
        **extra,
    )


def said(result: subprocess.CompletedProcess[str]) -> str:
    """What a client printed, its lines joined: uv and others wrap messages at their terminal's width."""
    return " ".join((result.stdout + result.stderr).split())


def run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def project_dir(base: Path, name: str, version: str, *dists: Dist) -> Path:
    """A project as poetry and pdm expect it: pyproject.toml naming the release, built files in dist/."""
    root = base / f"{name}-{version}"
    (root / "dist").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "{version}"\ndescription = "for tests"\nrequires-python = ">=3.8"\n'
    )
    for dist in dists:
        (root / "dist" / dist.filename).write_bytes(dist.data)
    return root


def listed(server: LocalServer, project: str, index: str = "local") -> dict[str, str]:
    """filename -> sha256 on the index's page."""
    response = server.get(f"/{index}/simple/{project}/", headers=JSON)
    if response.status_code == 404:
        return {}
    return {f["filename"]: f["hashes"]["sha256"] for f in response.json()["files"]}


def test_twine_with_the_readmes_pypirc(server: LocalServer, token: str, tmp_path: Path) -> None:
    """The ~/.pypirc README.md shows, with this server and token filled in, works for twine as written."""
    home = tmp_path / "home"
    env = sealed_env(home)
    pypirc = readme_block("ini", "twine reads repositories from").replace("http://HOST:4040", server.url)
    (home / ".pypirc").write_text(pypirc.replace("rnt_...", token))
    wheel = make_wheel("via-readme", "1.0")
    (tmp_path / wheel.filename).write_bytes(wheel.data)
    done = run([sys.executable, "-m", "twine", "upload", "-r", "rennet", str(tmp_path / wheel.filename)], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert listed(server, "via-readme") == {wheel.filename: wheel.sha256}


def test_twine_with_pypirc(server: LocalServer, token: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = sealed_env(home)
    (home / ".pypirc").write_text(
        "[distutils]\nindex-servers =\n    rennet\n    rennet-token\n\n"
        f"[rennet]\nrepository = {server.url}/local/\nusername = {ALICE[0]}\npassword = {ALICE[1]}\n\n"
        f"[rennet-token]\nrepository = {server.url}/legacy/\nusername = __token__\npassword = {token}\n"
    )
    wheel, sdist = make_wheel("via-twine", "1.0"), make_sdist("via-twine", "1.0")
    dist = tmp_path / "dist"
    dist.mkdir()
    for item in (wheel, sdist):
        (dist / item.filename).write_bytes(item.data)
    twine = [sys.executable, "-m", "twine", "upload", "--disable-progress-bar"]

    # ~/.pypirc of the (temporary) HOME, found by twine itself.
    first = run([*twine, "-r", "rennet", *map(str, sorted(dist.iterdir()))], env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert listed(server, "via-twine") == {wheel.filename: wheel.sha256, sdist.filename: sdist.sha256}
    # The same files again are accepted silently (200), here with a token and an explicit --config-file.
    config = ["--config-file", str(home / ".pypirc")]
    again = run([*twine, *config, "-r", "rennet-token", *map(str, sorted(dist.iterdir()))], env)
    assert again.returncode == 0, again.stdout + again.stderr

    newer = make_wheel("via-twine", "1.1")
    (dist / newer.filename).write_bytes(newer.data)
    with_token = run([*twine, *config, "-r", "rennet-token", str(dist / newer.filename)], env)
    assert with_token.returncode == 0, with_token.stdout + with_token.stderr
    assert newer.filename in listed(server, "via-twine")

    # Other bytes under a taken name: refused, and with --verbose twine shows rennet's sentence.
    other = make_wheel("via-twine", "1.0", padding=64)
    (dist / wheel.filename).write_bytes(other.data)
    conflict = run([*twine, *config, "-r", "rennet", "--verbose", str(dist / wheel.filename)], env)
    assert conflict.returncode == 1
    assert "File already exists" in said(conflict)
    assert listed(server, "via-twine")[wheel.filename] == wheel.sha256

    wrong = home / "wrong.pypirc"
    wrong.write_text(
        f"[distutils]\nindex-servers = rennet\n[rennet]\nrepository = {server.url}/local/\n"
        "username = alice\npassword = not-her-password\n"
    )
    refused = run([*twine, "--config-file", str(wrong), "-r", "rennet", str(dist / newer.filename)], env)
    assert refused.returncode == 1 and "403" in said(refused)


def test_twine_skip_existing_decision(server: LocalServer, tmp_path: Path) -> None:
    """twine (6.2 and later) refuses --skip-existing for any index but PyPI's own, before uploading anything.
    What it still does is decide from the answer whether a failed upload means "already there": run its upload
    and that decision against rennet's real answer, so older twines and the tools reusing it keep working."""
    from twine.commands.upload import skip_upload
    from twine.package import PackageFile
    from twine.repository import Repository

    original, other = make_wheel("twine-skip", "1.0"), make_wheel("twine-skip", "1.0", padding=64)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / original.filename).write_bytes(original.data)
    (tmp_path / "b" / other.filename).write_bytes(other.data)
    repository = Repository(f"{server.url}/local/", ALICE[0], ALICE[1], disable_progress_bar=True)
    try:
        first = repository.upload(PackageFile.from_filename(str(tmp_path / "a" / original.filename), None))
        assert first.status_code == 200
        package = PackageFile.from_filename(str(tmp_path / "b" / other.filename), None)
        conflict = repository.upload(package)
        assert conflict.status_code == 400
        assert skip_upload(conflict, True, package)
        assert not skip_upload(conflict, False, package)
    finally:
        repository.close()


def test_uv_publish(server: LocalServer, token: str, tmp_path: Path) -> None:
    env = sealed_env(tmp_path / "home")
    uv = [
        uv_binary(),
        "publish",
        "--no-cache",
        "--trusted-publishing",
        "never",
        "--publish-url",
        f"{server.url}/local/legacy/",
    ]
    check = ["--check-url", f"{server.url}/simple/"]  # the default group: new files must show there at once
    wheel, sdist = make_wheel("via-uv", "1.0"), make_sdist("via-uv", "1.0")
    dist = tmp_path / "dist"
    dist.mkdir()
    for item in (wheel, sdist):
        (dist / item.filename).write_bytes(item.data)

    first = run([*uv, *check, "--username", ALICE[0], "--password", ALICE[1], *map(str, dist.iterdir())], env)
    assert first.returncode == 0, first.stderr
    assert listed(server, "via-uv") == {wheel.filename: wheel.sha256, sdist.filename: sdist.sha256}

    newer = make_wheel("via-uv", "2.0")
    (dist / newer.filename).write_bytes(newer.data)
    second = run([*uv, *check, "--token", token, *map(str, sorted(dist.iterdir()))], env)
    assert second.returncode == 0, second.stderr
    for skipped in (wheel, sdist):
        assert f"File {skipped.filename} already exists, skipping" in said(second)
    assert f"Uploading {newer.filename}" in said(second)
    assert newer.filename in listed(server, "via-uv")

    # A conflicting file: uv's own check sees the hash differ; without it, rennet's sentence comes through.
    other = make_wheel("via-uv", "1.0", padding=64)
    conflict_dir = tmp_path / "conflict"
    conflict_dir.mkdir()
    (conflict_dir / other.filename).write_bytes(other.data)
    checked = run([*uv, *check, "--token", token, str(conflict_dir / other.filename)], env)
    assert checked.returncode != 0 and "do not match" in said(checked)
    unchecked = run([*uv, "--token", token, str(conflict_dir / other.filename)], env)
    assert unchecked.returncode != 0
    assert "File already exists" in said(unchecked)
    assert listed(server, "via-uv")[wheel.filename] == wheel.sha256

    refused = run([*uv, "--username", "__token__", "--password", token[:-3] + "abc", str(dist / newer.filename)], env)
    assert refused.returncode != 0 and "403" in said(refused)


def test_poetry_publish(server: LocalServer, token: str, tmp_path: Path) -> None:
    poetry = [tool("poetry"), "publish", "--no-interaction", "-r", "rennet"]
    repository = {"POETRY_REPOSITORIES_RENNET_URL": f"{server.url}/local/"}
    with_password = sealed_env(
        tmp_path / "home",
        **repository,
        POETRY_HTTP_BASIC_RENNET_USERNAME=ALICE[0],
        POETRY_HTTP_BASIC_RENNET_PASSWORD=ALICE[1],
    )
    wheel, sdist = make_wheel("via-poetry", "1.0"), make_sdist("via-poetry", "1.0")
    first = run(poetry, with_password, cwd=project_dir(tmp_path, "via-poetry", "1.0", wheel, sdist))
    assert first.returncode == 0, first.stdout + first.stderr
    assert listed(server, "via-poetry") == {wheel.filename: wheel.sha256, sdist.filename: sdist.sha256}

    with_token = sealed_env(tmp_path / "home", **repository, POETRY_PYPI_TOKEN_RENNET=token)
    newer = make_wheel("via-poetry", "2.0")
    second = run(poetry, with_token, cwd=project_dir(tmp_path, "via-poetry", "2.0", newer))
    assert second.returncode == 0, second.stdout + second.stderr
    assert newer.filename in listed(server, "via-poetry")

    other = make_wheel("via-poetry", "1.0", padding=64)
    conflicting = project_dir(tmp_path / "conflict", "via-poetry", "1.0", other)
    refused = run(poetry, with_token, cwd=conflicting)
    assert refused.returncode != 0
    assert "File already exists" in said(refused)
    skipped = run([*poetry, "--skip-existing"], with_token, cwd=conflicting)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "File exists. Skipping" in said(skipped)
    assert listed(server, "via-poetry")[wheel.filename] == wheel.sha256


def test_pdm_publish(server: LocalServer, token: str, tmp_path: Path) -> None:
    env = sealed_env(tmp_path / "home")
    pdm = [tool("pdm"), "publish", "--no-build", "--repository", f"{server.url}/local/"]
    wheel, sdist = make_wheel("via-pdm", "1.0"), make_sdist("via-pdm", "1.0")
    first = run(
        [*pdm, "--username", ALICE[0], "--password", ALICE[1]],
        env,
        cwd=project_dir(tmp_path, "via-pdm", "1.0", wheel, sdist),
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert listed(server, "via-pdm") == {wheel.filename: wheel.sha256, sdist.filename: sdist.sha256}

    newer = make_wheel("via-pdm", "2.0")
    second = run(
        [*pdm, "--username", "__token__", "--password", token],
        env,
        cwd=project_dir(tmp_path, "via-pdm", "2.0", newer),
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert newer.filename in listed(server, "via-pdm")

    other = make_wheel("via-pdm", "1.0", padding=64)
    conflicting = project_dir(tmp_path / "conflict", "via-pdm", "1.0", other)
    token_args = ["--username", "__token__", "--password", token]
    refused = run([*pdm, *token_args, "-vv"], env, cwd=conflicting)  # pdm shows the body only in debug output
    assert refused.returncode != 0
    assert "File already exists" in said(refused)
    skipped = run([*pdm, *token_args, "--skip-existing"], env, cwd=conflicting)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "already exist" in said(skipped)
    assert listed(server, "via-pdm")[wheel.filename] == wheel.sha256
