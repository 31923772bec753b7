"""`rennet export DIR` (a static copy of an index) and `rennet import` of such a tree, into a proxy or a hosted index.

One source server per module is filled through a fake upstream (by installing through it) and by uploads, and
exported once while it runs; then the upstream and the server stop, and everything after installs from the tree
alone: with pip and uv over file://, through Python's http.server and through nginx configured as README.md says.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import httpx
import pytest

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.names import NormalizedName
from rennet.domain.simple import render_project_html, render_project_json
from rennet.domain.validators import UpstreamValidators
from rennet.service.offline.exported_tree import TreePage, read_tree
from rennet.storage.store import open_store
from tests.support.accounts import add_user, rennet_cli
from tests.support.dists import make_sdist, make_wheel
from tests.support.installers import installed_version, pip_install, uv_install
from tests.support.pages import JSON_V1, PIP_ACCEPT, all_keys, parse_html
from tests.support.server import RennetServer
from tests.support.uploads import post_upload, stored
from tests.support.upstream import FakeUpstream, _free_port

ALICE = ("alice", "alice-export-1")
CONFIG = '[index.local]\ntype = "hosted"\nupload = ["alice"]\n'
README = Path(__file__).resolve().parent.parent / "README.md"
NONE = UpstreamValidators()

ALPHA_1 = make_wheel("alpha", "1.0")  # listed upstream, never fetched
ALPHA_2 = make_wheel("alpha", "2.0", requires=("beta>=1",))
ALPHA_SDIST = make_sdist("alpha", "2.0")  # listed upstream, never fetched
BETA_15 = make_wheel("beta", "1.5", requires_python=">=3.8")
BETA_16 = replace(make_wheel("beta", "1.6"), yanked="broken build")
DELTA = make_wheel("delta", "1.0+local.1")  # a '+' in the filename: percent-encoded in links
GAMMA = make_wheel("gamma", "0.3")  # fetched without its .metadata: the export takes METADATA out of the wheel
SECRET = make_wheel("acme-secret", "1.0")
SECRET_SDIST = make_sdist("acme-secret", "1.0")
SECRET_OLD = make_wheel("acme-secret", "0.9")  # yanked in local
LEGACY = make_wheel("acme-old", "0.9")  # deprecated in local
HELD = [ALPHA_2, BETA_15, BETA_16, DELTA, GAMMA, SECRET, SECRET_SDIST, SECRET_OLD, LEGACY]


@dataclass
class Source:
    server: RennetServer
    tree: Path
    export_output: str


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    base = tmp_path_factory.mktemp("export")
    upstream = FakeUpstream().start()
    upstream.add(ALPHA_1, ALPHA_2, ALPHA_SDIST, BETA_15, BETA_16, DELTA, GAMMA)
    server = RennetServer(base / "data", upstream_url=upstream.url, config=CONFIG).start()
    try:
        _fill(server, base)
        tree = base / "tree"
        done = rennet_cli(server, "export", str(tree))  # while the server runs
        assert done.returncode == 0, done.stderr
    finally:
        server.stop()
        upstream.stop()
    yield Source(server, tree, done.stdout)


def _fill(server: RennetServer, base: Path) -> None:
    installed = pip_install(server.simple, "alpha", "delta", target=base / "fill1")
    assert installed.returncode == 0, installed.stderr
    pinned = pip_install(server.simple, "beta==1.6", target=base / "fill2")  # an exact pin takes a yanked file
    assert pinned.returncode == 0, pinned.stderr
    assert server.get(f"/pypi/files/gamma/{GAMMA.filename}").content == GAMMA.data
    add_user(server, *ALICE)
    for dist in (SECRET, SECRET_SDIST, SECRET_OLD, LEGACY):
        assert post_upload(server.url + "/local/", dist, auth=ALICE).status_code == 200
    for command in (
        ("yank", "local", "acme-secret", "0.9", "--reason", "leaked key"),
        ("status", "local", "acme-old", "deprecated", "--reason", "use acme-secret"),
    ):
        assert rennet_cli(server, *command).returncode == 0


# -- helpers -----------------------------------------------------------------------------------------------------


def page(tree: Path, project: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tree / "simple" / project / "index.json").read_text())
    return data


def entries(tree: Path, project: str) -> dict[str, dict[str, Any]]:
    return {entry["filename"]: entry for entry in page(tree, project)["files"]}


def resolve(tree: Path, project: str, url: str) -> Path:
    """Where a link of a page leads, as a client resolves it against the page's file:// URL."""
    target = urljoin((tree / "simple" / project).as_uri() + "/", url)
    return Path(url2pathname(urlsplit(target).path))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime, inode) of every file: a rewrite through a temporary file and a rename changes the inode."""
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, path.stat().st_ino)
        for path in root.rglob("*")
        if path.is_file()
    }


def tree_file_count(tree: Path) -> int:
    return sum(len(page(tree, folder.name)["files"]) for folder in (tree / "simple").iterdir() if folder.is_dir())


def other_server(data_dir: Path, config: str | None = CONFIG, **options: Any) -> RennetServer:
    """A server (not started) on another data directory; the upstream it names is gone."""
    return RennetServer(data_dir, upstream_url=f"http://127.0.0.1:{_free_port()}/simple/", config=config, **options)


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


@pytest.mark.e2e
def test_pages_list_the_held_files_with_every_field(source: Source) -> None:
    tree = source.tree
    assert "exported 6 project(s) of default: 9 file(s) written" in source.export_output
    assert "2 listed file(s) not held, left out" in source.export_output
    # Files the proxy only knows from the upstream's page are not in the copy, so no page may list them.
    assert set(entries(tree, "alpha")) == {ALPHA_2.filename}
    assert set(entries(tree, "acme-secret")) == {SECRET.filename, SECRET_SDIST.filename, SECRET_OLD.filename}
    beta = entries(tree, "beta")
    assert beta[BETA_16.filename]["yanked"] == "broken build"
    assert beta[BETA_15.filename]["yanked"] is False
    assert beta[BETA_15.filename]["requires-python"] == ">=3.8"
    assert entries(tree, "acme-secret")[SECRET_OLD.filename]["yanked"] == "leaked key"
    assert page(tree, "acme-old")["project-status"] == {"status": "deprecated", "reason": "use acme-secret"}
    assert page(tree, "alpha")["versions"] == ["1.0", "2.0"]
    for dist in HELD:
        entry = entries(tree, dist.project)[dist.filename]
        assert entry["hashes"]["sha256"] == dist.sha256
        assert entry["size"] == len(dist.data)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", entry["upload-time"])
        assert resolve(tree, dist.project, entry["url"]).read_bytes() == dist.data
    html = parse_html((tree / "simple" / "beta" / "index.html").read_text())
    yanked = html.anchor(BETA_16.filename)
    assert yanked.attrs["data-yanked"] == "broken build"
    assert html.anchor(BETA_15.filename).attrs["data-requires-python"] == ">=3.8"
    assert yanked.href.endswith(f"#sha256={BETA_16.sha256}")
    assert resolve(tree, "beta", yanked.href.split("#")[0]).read_bytes() == BETA_16.data
    assert parse_html((tree / "simple" / "acme-old" / "index.html").read_text()).meta["pypi:project-status"] == (
        "deprecated"
    )
    assert "dist-info-metadata" not in all_keys(page(tree, "beta"))


@pytest.mark.e2e
def test_wheels_have_metadata_matching_their_pages(source: Source) -> None:
    for dist in HELD:
        entry = entries(source.tree, dist.project)[dist.filename]
        beside = resolve(source.tree, dist.project, entry["url"] + ".metadata")
        if dist.metadata is None:  # an sdist: PyPI and rennet offer .metadata for wheels only
            assert entry["core-metadata"] is False and not beside.exists()
            continue
        assert beside.read_bytes() == dist.metadata
        assert entry["core-metadata"] == {"sha256": sha256(beside)}
        anchor = parse_html((source.tree / "simple" / dist.project / "index.html").read_text()).anchor(dist.filename)
        assert anchor.attrs["data-core-metadata"] == f"sha256={sha256(beside)}"
    names = ["acme-old", "acme-secret", "alpha", "beta", "delta", "gamma"]
    root = json.loads((source.tree / "simple" / "index.json").read_text())
    assert root["projects"] == [{"name": name} for name in names]
    listed = [a.href for a in parse_html((source.tree / "simple" / "index.html").read_text()).anchors]
    assert listed == [f"{name}/" for name in names]


@pytest.mark.e2e
def test_the_export_writes_nothing_into_the_data_directory(source: Source) -> None:
    # GAMMA's .metadata was taken out of the wheel for the copy; the data directory must not have gained it.
    row = _metadata_sha256(source.server.data_dir, GAMMA.filename)
    assert row is None
    assert GAMMA.metadata is not None
    assert hashlib.sha256(GAMMA.metadata).hexdigest() not in stored(source.server.data_dir).blobs


def _metadata_sha256(data_dir: Path, filename: str) -> str | None:
    import sqlite3

    with contextlib.closing(sqlite3.connect(data_dir / "rennet.sqlite3")) as db:
        found = db.execute("select metadata_sha256 from files where filename = ?", (filename,)).fetchone()
    assert found is not None
    return found[0]  # type: ignore[no-any-return]


@pytest.mark.e2e
def test_pip_and_uv_install_from_file_urls(source: Source, tmp_path: Path) -> None:
    assert_installs(source.tree.as_uri() + "/simple/", tmp_path, "file")
    pinned = pip_install(source.tree.as_uri() + "/simple/", "beta==1.6", target=tmp_path / "pinned")
    assert pinned.returncode == 0, pinned.stderr
    assert installed_version(tmp_path / "pinned", "beta") == "1.6"


@pytest.mark.e2e
def test_a_moved_tree_still_installs(source: Source, tmp_path: Path) -> None:
    copy = tmp_path / "first"
    shutil.copytree(source.tree, copy)
    moved = tmp_path / "elsewhere" / "packages"
    moved.parent.mkdir()
    copy.rename(moved)
    assert_installs(moved.as_uri() + "/simple/", tmp_path, "moved", uv=False)


@pytest.mark.e2e
def test_pip_and_uv_install_through_a_static_web_server_under_a_prefix(source: Source, tmp_path: Path) -> None:
    with http_server(source.tree.parent) as url:
        index = f"{url}/{source.tree.name}/simple/"
        assert httpx.get(index + "alpha/").status_code == 200
        assert_installs(index, tmp_path, "http")


# -- nginx, configured as README.md says -------------------------------------------------------------------------


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: .ci/run installs it")
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    return found


@pytest.fixture
def nginx(source: Source, tmp_path: Path) -> Iterator[str]:
    block = re.search(r"```nginx\n(.*?)```", README.read_text(), re.DOTALL)
    assert block, "README.md shows an nginx configuration"
    port = _free_port()
    server = block[1].replace("/srv/packages", str(source.tree)).replace("listen 8080;", f"listen 127.0.0.1:{port};")
    assert str(source.tree) in server and str(port) in server
    # As root, nginx's workers would run as nobody, who cannot read the test's private temporary directories.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi"))
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"daemon off;\n{user}worker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\naccess_log off;\n{temp}scgi_temp_path {tmp_path}/scgi;\n{server}\n}}\n"
    )
    process = subprocess.Popen([nginx_binary(), "-c", str(config), "-p", str(tmp_path)], stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise AssertionError("nginx did not listen")


@pytest.mark.e2e
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


# -- exporting again, choosing, failing ---------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_second_export_rewrites_nothing_and_repairs_what_is_wrong(source: Source, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(source.tree, tree)
    before = snapshot(tree)
    again = rennet_cli(source.server, "export", str(tree))
    assert again.returncode == 0, again.stderr
    assert "0 file(s) written, 9 already there, 0 failed" in again.stdout
    assert snapshot(tree) == before

    damaged = tree / "files" / "beta" / BETA_15.filename
    damaged.write_bytes(BETA_15.data[:-1] + b"!")
    (tree / "files" / "alpha" / ALPHA_2.filename).unlink()
    (tree / "files" / "alpha" / (ALPHA_2.filename + ".metadata")).unlink()
    (tree / "simple" / "delta" / "index.json").write_text("{}")
    leftover = tree / "files" / "beta" / ".rennet-export-crashed.part"
    leftover.write_bytes(b"half a file")
    before = snapshot(tree)
    repaired = rennet_cli(source.server, "export", str(tree))
    assert repaired.returncode == 0, repaired.stderr
    assert "2 file(s) written, 7 already there, 0 failed" in repaired.stdout
    after = snapshot(tree)
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {
        f"files/beta/{BETA_15.filename}",
        f"files/alpha/{ALPHA_2.filename}",
        f"files/alpha/{ALPHA_2.filename}.metadata",
        "simple/delta/index.json",
    }
    assert damaged.read_bytes() == BETA_15.data
    assert not leftover.exists()
    assert (tree / "simple" / "delta" / "index.json").read_bytes() == (
        source.tree / "simple" / "delta" / "index.json"
    ).read_bytes()


@pytest.mark.e2e
def test_exporting_chosen_projects_of_one_index(source: Source, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    done = rennet_cli(source.server, "export", str(tree), "--index", "pypi", "--projects", "Alpha,nope")
    assert done.returncode == 1
    assert "failed nope: there is no such project in pypi" in done.stderr
    assert "exported 1 project(s) of pypi: 1 file(s) written" in done.stdout
    assert "2 listed file(s) not held, left out" in done.stdout
    assert set(entries(tree, "alpha")) == {ALPHA_2.filename}
    assert [p["name"] for p in json.loads((tree / "simple" / "index.json").read_text())["projects"]] == ["alpha"]
    # A second export into the same tree adds to it: the project list names both.
    more = rennet_cli(source.server, "export", str(tree), "--index", "pypi", "--projects", "beta")
    assert more.returncode == 0, more.stderr
    assert [p["name"] for p in json.loads((tree / "simple" / "index.json").read_text())["projects"]] == [
        "alpha",
        "beta",
    ]
    for args, message in [
        (("--index", "nowhere"), "there is no index named 'nowhere'"),
        (("--projects", "no good!"), "is not a valid project name"),
    ]:
        refused = rennet_cli(source.server, "export", str(tmp_path / "other"), *args)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    assert not (tmp_path / "other").exists()


@pytest.mark.e2e
def test_a_damaged_blob_is_reported_and_left_out(source: Source, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(source.server.data_dir, data)
    blob = data / "blobs" / BETA_15.sha256[:2] / BETA_15.sha256[2:4] / BETA_15.sha256
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    tree = tmp_path / "tree"
    done = rennet_cli(other_server(data), "export", str(tree))
    assert done.returncode == 1
    assert f"failed {BETA_15.filename}: the copy in the data directory is damaged" in done.stderr
    assert set(entries(tree, "beta")) == {BETA_16.filename}
    assert not (tree / "files" / "beta" / BETA_15.filename).exists()
    assert not list(tree.rglob(".rennet-export-*"))


# -- importing the tree -------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_tree_seeds_a_fresh_proxy_that_then_serves_offline(source: Source, tmp_path: Path) -> None:
    laptop = other_server(tmp_path / "laptop", offline=True)
    count = tree_file_count(source.tree)
    done = rennet_cli(laptop, "import", str(source.tree), "--index", "pypi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"imported {count}, skipped 0, failed 0"
    laptop.start()
    try:
        assert_installs(laptop.simple, tmp_path, "offline")
        beta = laptop.get("/pypi/simple/beta/", headers={"accept": JSON_V1}).json()
        files = {entry["filename"]: entry for entry in beta["files"]}
        assert files[BETA_16.filename]["yanked"] == "broken build"
        assert files[BETA_15.filename]["requires-python"] == ">=3.8"
        assert files[BETA_15.filename]["upload-time"] == entries(source.tree, "beta")[BETA_15.filename]["upload-time"]
        gamma = laptop.get("/pypi/simple/gamma/", headers={"accept": JSON_V1}).json()["files"][0]
        metadata = laptop.get(f"/pypi/files/gamma/{GAMMA.filename}.metadata").content
        assert gamma["core-metadata"] == {"sha256": hashlib.sha256(metadata).hexdigest()}
        status = laptop.get("/pypi/simple/acme-old/", headers={"accept": JSON_V1}).json()["project-status"]
        assert status == {"status": "deprecated", "reason": "use acme-secret"}
        assert "delta" in laptop.get("/pypi/simple/").text
        again = rennet_cli(laptop, "import", str(source.tree), "--index", "pypi")  # while it serves
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines()[-1] == f"imported 0, skipped {count}, failed 0"
    finally:
        laptop.stop()


@pytest.mark.e2e
def test_a_tree_imported_into_a_hosted_index_keeps_yanks_times_and_status(source: Source, tmp_path: Path) -> None:
    restored = other_server(tmp_path / "restored")
    done = rennet_cli(restored, "import", str(source.tree), "--index", "local", "--uploader", "restore")
    assert done.returncode == 0, done.stderr
    count = tree_file_count(source.tree)
    assert done.stdout.splitlines()[-1] == f"imported {count}, skipped 0, failed 0"
    assert "status acme-old set to deprecated" in done.stderr
    restored.start()
    try:
        secret = restored.get("/local/simple/acme-secret/", headers={"accept": JSON_V1}).json()
        files = {entry["filename"]: entry for entry in secret["files"]}
        assert files[SECRET_OLD.filename]["yanked"] == "leaked key"
        exported = entries(source.tree, "acme-secret")
        assert {name: entry["upload-time"] for name, entry in files.items()} == {
            name: entry["upload-time"] for name, entry in exported.items()
        }
        legacy = restored.get("/local/simple/acme-old/", headers={"accept": JSON_V1}).json()
        assert legacy["project-status"] == {"status": "deprecated", "reason": "use acme-secret"}
        beta = restored.get("/local/simple/beta/", headers={"accept": JSON_V1}).json()
        assert {e["filename"]: e["yanked"] for e in beta["files"]}[BETA_16.filename] == "broken build"
        assert_installs(restored.simple, tmp_path, "restored", uv=False)
    finally:
        restored.stop()
    again = rennet_cli(restored, "import", str(source.tree), "--index", "local")
    assert again.stdout.splitlines()[-1] == f"imported 0, skipped {count}, failed 0"


@pytest.mark.e2e
def test_seeding_a_proxy_adds_to_what_its_upstream_said(source: Source, tmp_path: Path) -> None:
    other_beta = make_wheel("beta", "1.5", padding=64)  # the same name with other bytes
    upstream = FakeUpstream().start()
    upstream.add(ALPHA_1, ALPHA_2, other_beta)
    laptop = RennetServer(tmp_path / "laptop", upstream_url=upstream.url, config=CONFIG).start()
    try:
        for project in ("alpha", "beta"):
            assert laptop.get(f"/pypi/simple/{project}/").status_code == 200
        upstream.stop()
        done = rennet_cli(laptop, "import", str(source.tree), "--index", "pypi")  # while it serves
        assert done.returncode == 1
        failures = [line for line in done.stderr.splitlines() if line.startswith("failed ")]
        assert failures == [
            f"failed {source.tree / 'files' / 'beta' / BETA_15.filename}: pypi lists other bytes under this name "
            f"(sha256 {other_beta.sha256})"
        ]
        alpha = {
            e["filename"]: e for e in laptop.get("/pypi/simple/alpha/", headers={"accept": JSON_V1}).json()["files"]
        }
        assert set(alpha) == {ALPHA_1.filename, ALPHA_2.filename}, "what the upstream listed stays listed"
        assert laptop.get(f"/pypi/files/alpha/{ALPHA_2.filename}").content == ALPHA_2.data
        beta = {
            e["filename"]: e for e in laptop.get("/pypi/simple/beta/", headers={"accept": JSON_V1}).json()["files"]
        }
        assert beta[BETA_15.filename]["hashes"] == {"sha256": other_beta.sha256}
        assert beta[BETA_16.filename]["yanked"] == "broken build"
        assert laptop.get(f"/pypi/files/beta/{BETA_16.filename}").content == BETA_16.data
    finally:
        laptop.stop()
        upstream.stop()


def broken_tree(source: Source, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the tree with one wrong file, one unreadable page, one non-archive and a link out of the tree;
    returns it with what must be reported for each."""
    tree = tmp_path / "broken"
    shutil.copytree(source.tree, tree)
    wrong = tree / "files" / "alpha" / ALPHA_2.filename
    wrong.write_bytes(ALPHA_2.data[:-1] + b"!")
    (tree / "simple" / "gamma" / "index.json").write_text('{"files": [{"filename": ')
    junk = b"not a zip at all"
    (tree / "files" / "junk").mkdir()
    (tree / "files" / "junk" / "junk-1.0-py3-none-any.whl").write_bytes(junk)
    (tree / "simple" / "junk").mkdir()
    links = [
        ("junk-1.0-py3-none-any.whl", "../../files/junk/junk-1.0-py3-none-any.whl", hashlib.sha256(junk).hexdigest()),
        ("junk-2.0.tar.gz", "http://elsewhere.invalid/junk-2.0.tar.gz", "0" * 64),
    ]
    junk_page = {
        "meta": {"api-version": "1.1"},
        "name": "junk",
        "files": [{"filename": name, "url": url, "hashes": {"sha256": digest}} for name, url, digest in links],
    }
    (tree / "simple" / "junk" / "index.json").write_text(json.dumps(junk_page))
    return tree, {
        str(wrong): "does not match the sha256 its page gives",
        str(tree / "simple" / "gamma" / "index.json"): "unreadable project page",
        str(tree / "files" / "junk" / "junk-1.0-py3-none-any.whl"): "not a readable wheel",
        "junk-2.0.tar.gz": "leads out of the tree",
    }


def assert_failures(stderr: str, expected: dict[str, str]) -> None:
    failures = [line for line in stderr.splitlines() if line.startswith("failed ")]
    assert len(failures) == len(expected), stderr
    for what, reason in expected.items():
        assert any(line.startswith(f"failed {what}: ") and reason in line for line in failures), (what, failures)


@pytest.mark.e2e
def test_broken_inputs_are_reported_per_item_and_the_rest_is_seeded(source: Source, tmp_path: Path) -> None:
    tree, expected = broken_tree(source, tmp_path)
    # A proxy serves the tree's .metadata files: one that does not match its page refuses its wheel.
    wrong_metadata = tree / "files" / "delta" / f"{DELTA.filename}.metadata"
    wrong_metadata.write_bytes(wrong_metadata.read_bytes() + b"Author: someone else\n")
    expected[str(tree / "files" / "delta" / DELTA.filename)] = "its .metadata does not match its page"
    laptop = other_server(tmp_path / "laptop", offline=True)
    done = rennet_cli(laptop, "import", str(tree), "--index", "pypi")
    assert done.returncode == 1
    assert_failures(done.stderr, expected)
    held = stored(laptop.data_dir)
    assert held.temp_files == ()
    assert hashlib.sha256(b"not a zip at all").hexdigest() not in held.blobs
    assert hashlib.sha256(ALPHA_2.data[:-1] + b"!").hexdigest() not in held.blobs
    assert DELTA.sha256 not in held.blobs
    laptop.start()
    try:
        for project in ("alpha", "delta", "gamma", "junk"):  # nothing of theirs came in: no page at all
            assert laptop.get(f"/pypi/simple/{project}/").status_code == 404, project
        done = pip_install(laptop.simple, "beta", "acme-secret", target=tmp_path / "rest")
        assert done.returncode == 0, done.stderr
    finally:
        laptop.stop()


@pytest.mark.e2e
def test_broken_inputs_are_reported_per_item_and_the_rest_is_hosted(source: Source, tmp_path: Path) -> None:
    tree, expected = broken_tree(source, tmp_path)
    restored = other_server(tmp_path / "restored")
    done = rennet_cli(restored, "import", str(tree), "--index", "local")
    assert done.returncode == 1
    assert_failures(done.stderr, expected)
    held = stored(restored.data_dir)
    assert held.temp_files == ()
    projects = {project for index, project, _ in held.hosted_files if index == "local"}
    # gamma's page is unreadable, but its wheel is still a distribution in a directory: it is imported as one.
    assert projects == {"acme-old", "acme-secret", "beta", "delta", "gamma"}


# -- units ---------------------------------------------------------------------------------------------------------


def test_static_pages_link_files_below_the_tree() -> None:
    file = DistFile("foo-1.0+x-py3-none-any.whl", "pypi", {"sha256": "a" * 64}, source_url="http://up.invalid/f")
    project = ProjectPage(NormalizedName("foo"), (file,))
    html = render_project_html(project, "../../", static=True).decode()
    assert 'href="../../files/foo/foo-1.0%2Bx-py3-none-any.whl#sha256=' + "a" * 64 + '"' in html
    assert json.loads(render_project_json(project, "../../", static=True))["files"][0]["url"] == (
        "../../files/foo/foo-1.0%2Bx-py3-none-any.whl"
    )
    assert "../../pypi/files/foo/" in render_project_html(project, "../../").decode()
    assert "up.invalid" not in html


def test_a_tree_page_names_only_files_inside_the_tree(tmp_path: Path) -> None:
    links = {
        "a-1.0.tar.gz": "../../files/a/a-1.0.tar.gz",
        "a-1.1.tar.gz": "../../../../../../files/a/a-1.1.tar.gz",  # climbs no higher than the tree's root
        "a-1.2.tar.gz": "%2e%2e/%2e%2e/%2e%2e/secret",
        "a-1.3.tar.gz": "http://elsewhere.invalid/a-1.3.tar.gz",
        "a-1.4.tar.gz": "/files/a/a-1.4.tar.gz",
    }
    (tmp_path / "simple" / "a").mkdir(parents=True)
    files = [{"filename": name, "url": url, "hashes": {"sha256": "b" * 64}} for name, url in links.items()]
    (tmp_path / "simple" / "a" / "index.json").write_text(
        json.dumps({"meta": {"api-version": "1.0"}, "name": "a", "files": files})
    )
    (found,) = read_tree(tmp_path, "pypi")
    assert isinstance(found, TreePage)
    assert dict(found.paths) == {
        "a-1.0.tar.gz": tmp_path / "files" / "a" / "a-1.0.tar.gz",
        "a-1.1.tar.gz": tmp_path / "files" / "a" / "a-1.1.tar.gz",
        "a-1.2.tar.gz": None,
        "a-1.3.tar.gz": None,
        "a-1.4.tar.gz": tmp_path / "files" / "a" / "a-1.4.tar.gz",
    }
    assert all(file.source_url is None for file in found.page.files)


def test_a_seeded_file_is_listed_only_once_its_bytes_are_recorded(tmp_path: Path) -> None:
    """Seeding stores the page, then records each file's bytes: in between, no page may offer the file."""
    store = open_store(tmp_path, f"sqlite:///{tmp_path / 'rennet.sqlite3'}")
    try:
        catalog = store.catalog
        upstream = DistFile("foo-1.0.tar.gz", "pypi", {"sha256": "c" * 64}, source_url="http://up.invalid/f")
        seeded = DistFile("foo-2.0.tar.gz", "pypi", {"sha256": "d" * 64})
        catalog.store_upstream_page("pypi", "foo", ProjectPage(NormalizedName("foo"), (upstream, seeded)), NONE, 0.0)
        record = catalog.project("pypi", "foo")
        assert record is not None
        assert [f.filename for f in catalog.page(record).files] == ["foo-1.0.tar.gz"]
        assert [f.filename for f in catalog.page(record, as_stated=True).files] == [
            "foo-1.0.tar.gz",
            "foo-2.0.tar.gz",
        ]
        found = catalog.file("pypi", "foo", "foo-2.0.tar.gz")
        assert found is not None
        catalog.record_blob(found, "d" * 64, 10, None)
        assert [f.filename for f in catalog.page(record).files] == ["foo-1.0.tar.gz", "foo-2.0.tar.gz"]
    finally:
        store.close()
