"""An exported tree installs with real pip and uv: over file:// (also once moved), through Python's http.server under
a prefix and through nginx configured as README.md says; and so do servers seeded from it with `rennet import`.

The source is a real `rennet serve`, filled by pip installing through it (and by uploads), and exported by the
real command, a process of its own, while it runs; then the upstream and the server stop, and everything after
installs from the tree alone. The servers seeded from the tree run in-process (what needs a process here is the
installers). What the tree holds, and the import's reports: tests/web/test_export.py.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import Database
from tests.support.exports import (
    ALPHA_2,
    BETA_15,
    BETA_16,
    DELTA,
    GAMMA,
    HELD,
    PROJECTS,
    SECRET_SDIST,
    Source,
    break_delta_metadata,
    broken_tree,
    entries,
    exported_source,
    import_into_new,
    publish_private,
)
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.nginx import running as nginx_running
from tests.support.pages import JSON_V1, PIP_ACCEPT
from tests.support.readme import readme_block
from tests.support.server import RennetServer
from tests.support.store import wait_until_held


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, database: Database) -> Iterator[Source]:
    base = tmp_path_factory.mktemp("export")
    with exported_source(RennetServer, base, database, lambda server: _fill(server, base)) as source:
        yield source


def _fill(server: RennetServer, base: Path) -> None:
    installed = pip_install(server.simple, "alpha", "delta", target=base / "fill1")
    assert installed.returncode == 0, installed.stderr
    for module, version in (("alpha", "2.0"), ("beta", "1.5"), ("delta", "1.0+local.1")):
        assert installed_version(base / "fill1", module) == version
    pinned = pip_install(server.simple, "beta==1.6", target=base / "fill2")  # an exact pin takes a yanked file
    assert pinned.returncode == 0, pinned.stderr
    assert installed_version(base / "fill2", "beta") == "1.6"
    assert server.get(f"/pypi/files/gamma/{GAMMA.filename}").content == GAMMA.data
    for dist in (ALPHA_2, BETA_15, BETA_16, DELTA, GAMMA):  # blob and row follow a client's last byte
        wait_until_held(server, dist.filename, dist.sha256)
    publish_private(server)


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """Python's http.server serving directory, in a thread."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def assert_installs(index_url: str, tmp_path: Path, label: str, uv: bool = True) -> None:
    """pip (and uv) install the private and public projects of the copy, with the upstream long gone."""
    done = pip_install(index_url, "alpha", "delta", "acme-secret", target=tmp_path / f"{label}-pip")
    assert done.returncode == 0, done.stdout + done.stderr
    assert installed_version(tmp_path / f"{label}-pip", "alpha") == "2.0"
    assert installed_version(tmp_path / f"{label}-pip", "beta") == "1.5", "the yanked 1.6 must stay unchosen"
    assert installed_version(tmp_path / f"{label}-pip", "delta") == "1.0+local.1"
    assert installed_version(tmp_path / f"{label}-pip", "acme_secret") == "1.0"
    if uv:
        done = uv_install(index_url, "alpha", "delta", target=tmp_path / f"{label}-uv", cache_dir=tmp_path / label)
        assert done.returncode == 0, done.stdout + done.stderr
        assert installed_version(tmp_path / f"{label}-uv", "beta") == "1.5"
        assert installed_version(tmp_path / f"{label}-uv", "delta") == "1.0+local.1"


# -- the tree ----------------------------------------------------------------------------------------------------


def test_what_pip_fetched_through_the_server_is_exported(source: Source) -> None:
    assert "exported 6 project(s) of default: 9 file(s) written, 0 already there, 0 failed" in source.export_output
    assert "2 listed file(s) not held, left out" in source.export_output
    for project in PROJECTS:
        assert set(entries(source.tree, project)) == {d.filename for d in HELD if d.project == project}, project


def test_pip_and_uv_install_from_file_urls(source: Source, tmp_path: Path) -> None:
    assert_installs(source.tree.as_uri() + "/simple/", tmp_path, "file")
    pinned = pip_install(source.tree.as_uri() + "/simple/", "beta==1.6", target=tmp_path / "pinned")
    assert pinned.returncode == 0, pinned.stderr
    assert installed_version(tmp_path / "pinned", "beta") == "1.6"


def test_a_moved_tree_still_installs(source: Source, tmp_path: Path) -> None:
    copy = tmp_path / "first"
    shutil.copytree(source.tree, copy)
    moved = tmp_path / "elsewhere" / "packages"
    moved.parent.mkdir()
    copy.rename(moved)
    assert_installs(moved.as_uri() + "/simple/", tmp_path, "moved", uv=False)


def test_pip_and_uv_install_through_a_static_web_server_under_a_prefix(source: Source, tmp_path: Path) -> None:
    with http_server(source.tree.parent) as url:
        index = f"{url}/{source.tree.name}/simple/"
        assert httpx.get(index + "alpha/").status_code == 200
        assert_installs(index, tmp_path, "http")


# -- nginx, configured as README.md says -------------------------------------------------------------------------


@pytest.fixture
def nginx(source: Source, tmp_path: Path) -> Iterator[str]:
    # The configuration for an exported tree (README.md shows nginx in front of rennet too).
    block = readme_block("nginx", "A plain web server sends the HTML pages")
    assert "root /srv/packages;" in block and "listen 8080;" in block, "README.md's nginx block for a tree"
    server = block.replace("/srv/packages", str(source.tree)).replace("listen 8080;", "listen 127.0.0.1:LISTEN_PORT;")
    with nginx_running(server, tmp_path) as port:
        yield f"http://127.0.0.1:{port}"


def test_nginx_negotiates_pages_and_sends_files_as_stored(source: Source, nginx: str, tmp_path: Path) -> None:
    tree = source.tree
    as_json = httpx.get(f"{nginx}/simple/beta/", headers={"accept": PIP_ACCEPT, "accept-encoding": "identity"})
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == JSON_V1
    assert as_json.content == (tree / "simple" / "beta" / "index.json").read_bytes()
    assert as_json.headers["vary"] == "Accept"
    for accept in ("text/html", "*/*", None):
        as_html = httpx.get(f"{nginx}/simple/beta/", headers={"accept": accept} if accept else {})
        assert as_html.headers["content-type"].split(";")[0] == "text/html", accept
        assert as_html.content == (tree / "simple" / "beta" / "index.html").read_bytes()
    root = httpx.get(f"{nginx}/simple/", headers={"accept": JSON_V1})
    assert root.json()["projects"][0] == {"name": "acme-old"}
    for dist in (SECRET_SDIST, DELTA):
        url = f"{nginx}/files/{dist.project}/{dist.filename.replace('+', '%2B')}"
        response = httpx.get(url, headers={"accept-encoding": "gzip"})
        assert response.headers["content-type"] == "application/octet-stream"
        assert "content-encoding" not in response.headers
        assert response.content == dist.data
    metadata = httpx.get(f"{nginx}/files/beta/{BETA_15.filename}.metadata")
    assert metadata.headers["content-type"] == "application/octet-stream"
    assert metadata.content == BETA_15.metadata
    assert_installs(f"{nginx}/simple/", tmp_path, "nginx")


# -- servers seeded from the tree --------------------------------------------------------------------------------


def test_pip_and_uv_install_from_a_proxy_seeded_from_the_tree_offline(
    source: Source, tmp_path: Path, database: Database
) -> None:
    with import_into_new(source.tree, tmp_path / "laptop", database, "pypi", offline=True) as (laptop, _):
        laptop.start()
        assert_installs(laptop.simple, tmp_path, "offline")


def test_pip_installs_from_a_hosted_index_the_tree_was_imported_into(
    source: Source, tmp_path: Path, database: Database
) -> None:
    importing = import_into_new(source.tree, tmp_path / "restored", database, "local", "--uploader", "restore")
    with importing as (restored, _):
        restored.start()
        assert_installs(restored.simple, tmp_path, "restored", uv=False)


def test_what_came_in_from_a_broken_tree_installs(source: Source, tmp_path: Path, database: Database) -> None:
    tree, expected = broken_tree(source.tree, tmp_path)
    break_delta_metadata(tree, expected)
    with import_into_new(tree, tmp_path / "laptop", database, "pypi", failures=expected, offline=True) as (laptop, _):
        laptop.start()
        installed = pip_install(laptop.simple, "beta", "acme-secret", target=tmp_path / "rest")
        assert installed.returncode == 0, installed.stderr
        assert installed_version(tmp_path / "rest", "beta") == "1.5"
        assert installed_version(tmp_path / "rest", "acme_secret") == "1.0"
