"""`rennet export DIR` (a static copy of an index) and `rennet import` of such a tree, into a proxy or a hosted index.

One source server per module (and catalog) is filled through a fake upstream (asked what pip asks for when it
installs through it) and by uploads, and exported once while it runs; then the upstream and the server stop, and
everything after reads the tree alone, or imports it into other servers. The commands and the servers run
in-process. Installing from the tree with pip and uv (file://, http.server, nginx) and from servers seeded with
it: tests/e2e/test_export.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.support.accounts import rennet_cli
from tests.support.databases import Database
from tests.support.dists import Dist, make_wheel
from tests.support.exports import (
    ALPHA_1,
    ALPHA_2,
    BETA_15,
    BETA_16,
    CONFIG,
    DELTA,
    GAMMA,
    HELD,
    PROJECTS,
    SECRET,
    SECRET_OLD,
    SECRET_SDIST,
    Source,
    break_delta_metadata,
    broken_tree,
    entries,
    exported_source,
    import_into_new,
    other_server,
    page,
    publish_private,
    resolve,
    sha256,
    tree_file_count,
)
from tests.support.pages import JSON_V1, PIP_ACCEPT, all_keys, json_files, parse_html
from tests.support.server import LocalServer, Server
from tests.support.store import file_row, wait_until_held
from tests.support.uploads import stored
from tests.support.upstream import FakeUpstream


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, database: Database) -> Iterator[Source]:
    with exported_source(LocalServer, tmp_path_factory.mktemp("export"), database, _fill) as source:
        yield source


def _fill(server: LocalServer) -> None:
    # What `pip install alpha delta` asks for (alpha needs beta; beta 1.6 is yanked, so 1.5), then
    # `pip install beta==1.6`: an exact pin takes a yanked file.
    for project, dist in (("alpha", ALPHA_2), ("beta", BETA_15), ("delta", DELTA), ("beta", BETA_16)):
        fetch_like_pip(server, project, dist)
    assert server.get(f"/pypi/files/gamma/{GAMMA.filename}").content == GAMMA.data
    wait_until_held(server, GAMMA.filename, GAMMA.sha256)
    publish_private(server)


def fetch_like_pip(server: Server, project: str, dist: Dist) -> None:
    """What pip fetches to install one file through the default group: the JSON page, the file's .metadata
    (the page offers it), then the file, at the URLs the page gives."""
    url = f"{server.simple}{project}/"
    response = httpx.get(url, headers={"accept": PIP_ACCEPT}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_V1
    entry = {e["filename"]: e for e in response.json()["files"]}[dist.filename]
    assert entry["hashes"] == {"sha256": dist.sha256}
    file_url = urljoin(url, entry["url"])
    assert entry["core-metadata"] == {"sha256": hashlib.sha256(dist.metadata or b"").hexdigest()}
    assert httpx.get(file_url + ".metadata", timeout=30).content == dist.metadata
    assert httpx.get(file_url, timeout=30).content == dist.data
    wait_until_held(server, dist.filename, dist.sha256)  # its blob and row follow the client's last byte


# -- helpers -----------------------------------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime, inode) of every file: a rewrite through a temporary file and a rename changes the inode."""
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, path.stat().st_ino)
        for path in root.rglob("*")
        if path.is_file()
    }


def assert_serves(server: Server, tree: Path, projects: list[str]) -> None:
    """The server's default group lists the files the tree lists for these projects, with their hashes, yanks
    and Python requirements, and sends each byte for byte (as an installer would find them)."""
    for project in projects:
        url = f"{server.simple}{project}/"
        files = json_files(server, f"/simple/{project}/")
        exported = entries(tree, project)
        assert set(files) == set(exported), project
        for filename, entry in files.items():
            for key in ("hashes", "yanked", "requires-python"):
                assert entry[key] == exported[filename][key], (filename, key)
            response = httpx.get(urljoin(url, entry["url"]), timeout=30)
            assert response.status_code == 200, (filename, response.text)
            assert hashlib.sha256(response.content).hexdigest() == entry["hashes"]["sha256"], filename


# -- the tree ----------------------------------------------------------------------------------------------------


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
    root = json.loads((source.tree / "simple" / "index.json").read_text())
    assert root["projects"] == [{"name": name} for name in PROJECTS]
    anchors = [a.href for a in parse_html((source.tree / "simple" / "index.html").read_text()).anchors]
    assert anchors == [f"{name}/" for name in PROJECTS]


def test_the_export_writes_nothing_into_the_data_directory(source: Source) -> None:
    # GAMMA's .metadata was taken out of the wheel for the copy; the data directory must not have gained it.
    assert file_row(source.server, GAMMA.filename)["metadata_sha256"] is None
    assert GAMMA.metadata is not None
    assert hashlib.sha256(GAMMA.metadata).hexdigest() not in stored(source.server).blobs
    # The others were asked for with their .metadata, as pip does: those the data directory holds.
    for dist in (ALPHA_2, BETA_15, DELTA):
        assert dist.metadata is not None
        assert file_row(source.server, dist.filename)["metadata_sha256"] == hashlib.sha256(dist.metadata).hexdigest()


# -- exporting again, choosing, failing ---------------------------------------------------------------------------


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


def test_a_damaged_blob_is_reported_and_left_out(source: Source, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(source.server.data_dir, data)
    blob = data / "blobs" / BETA_15.sha256[:2] / BETA_15.sha256[2:4] / BETA_15.sha256
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    tree = tmp_path / "tree"
    # The copy's catalog: the copied SQLite file, or the source's PostgreSQL database (an export only reads it).
    done = rennet_cli(other_server(data, source.server.database_url), "export", str(tree))
    assert done.returncode == 1
    assert f"failed {BETA_15.filename}: the copy in the data directory is damaged" in done.stderr
    assert set(entries(tree, "beta")) == {BETA_16.filename}
    assert not (tree / "files" / "beta" / BETA_15.filename).exists()
    assert not list(tree.rglob(".rennet-export-*"))


# -- importing the tree -------------------------------------------------------------------------------------------


def test_a_tree_seeds_a_fresh_proxy_that_then_serves_offline(
    source: Source, tmp_path: Path, database: Database
) -> None:
    with import_into_new(source.tree, tmp_path / "laptop", database, "pypi", offline=True) as (laptop, _):
        count = tree_file_count(source.tree)
        laptop.start()
        assert_serves(laptop, source.tree, PROJECTS)
        files = json_files(laptop, "/pypi/simple/beta/")
        assert files[BETA_16.filename]["yanked"] == "broken build"
        assert files[BETA_15.filename]["requires-python"] == ">=3.8"
        assert files[BETA_15.filename]["upload-time"] == entries(source.tree, "beta")[BETA_15.filename]["upload-time"]
        gamma = laptop.get("/pypi/simple/gamma/", headers={"accept": JSON_V1}).json()["files"][0]
        metadata = laptop.get(f"/pypi/files/gamma/{GAMMA.filename}.metadata").content
        assert gamma["core-metadata"] == {"sha256": hashlib.sha256(metadata).hexdigest()}
        found = laptop.get("/search", params={"q": "tests"}).text  # "gamma for tests": a summary of seeded metadata
        assert "/-/project/pypi/gamma/" in found
        status = laptop.get("/pypi/simple/acme-old/", headers={"accept": JSON_V1}).json()["project-status"]
        assert status == {"status": "deprecated", "reason": "use acme-secret"}
        assert "delta" in laptop.get("/pypi/simple/").text
        again = rennet_cli(laptop, "import", str(source.tree), "--index", "pypi")  # while it serves
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines()[-1] == f"imported 0, skipped {count}, failed 0"


def test_a_tree_imported_into_a_hosted_index_keeps_yanks_times_and_status(
    source: Source, tmp_path: Path, database: Database
) -> None:
    importing = import_into_new(source.tree, tmp_path / "restored", database, "local", "--uploader", "restore")
    with importing as (restored, done):
        count = tree_file_count(source.tree)
        assert "status acme-old set to deprecated" in done.stderr
        restored.start()
        files = json_files(restored, "/local/simple/acme-secret/")
        assert files[SECRET_OLD.filename]["yanked"] == "leaked key"
        exported = entries(source.tree, "acme-secret")
        assert {name: entry["upload-time"] for name, entry in files.items()} == {
            name: entry["upload-time"] for name, entry in exported.items()
        }
        legacy = restored.get("/local/simple/acme-old/", headers={"accept": JSON_V1}).json()
        assert legacy["project-status"] == {"status": "deprecated", "reason": "use acme-secret"}
        assert json_files(restored, "/local/simple/beta/")[BETA_16.filename]["yanked"] == "broken build"
        assert_serves(restored, source.tree, PROJECTS)
        restored.stop()
        again = rennet_cli(restored, "import", str(source.tree), "--index", "local")
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines()[-1] == f"imported 0, skipped {count}, failed 0"


def test_seeding_a_proxy_adds_to_what_its_upstream_said(
    source: Source, rennet_factory: Callable[..., LocalServer]
) -> None:
    other_beta = make_wheel("beta", "1.5", padding=64)  # the same name with other bytes
    upstream = FakeUpstream().start()
    upstream.add(ALPHA_1, ALPHA_2, other_beta)
    laptop = rennet_factory(upstream_url=upstream.url, config=CONFIG)
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
        alpha = json_files(laptop, "/pypi/simple/alpha/")
        assert set(alpha) == {ALPHA_1.filename, ALPHA_2.filename}, "what the upstream listed stays listed"
        assert laptop.get(f"/pypi/files/alpha/{ALPHA_2.filename}").content == ALPHA_2.data
        beta = json_files(laptop, "/pypi/simple/beta/")
        assert beta[BETA_15.filename]["hashes"] == {"sha256": other_beta.sha256}
        assert beta[BETA_16.filename]["yanked"] == "broken build"
        assert laptop.get(f"/pypi/files/beta/{BETA_16.filename}").content == BETA_16.data
    finally:
        upstream.stop()


def test_broken_inputs_are_reported_per_item_and_the_rest_is_seeded(
    source: Source, tmp_path: Path, database: Database
) -> None:
    tree, expected = broken_tree(source.tree, tmp_path)
    break_delta_metadata(tree, expected)
    with import_into_new(tree, tmp_path / "laptop", database, "pypi", failures=expected, offline=True) as (laptop, _):
        held = stored(laptop)
        assert held.temp_files == ()
        assert hashlib.sha256(b"not a zip at all").hexdigest() not in held.blobs
        assert hashlib.sha256(ALPHA_2.data[:-1] + b"!").hexdigest() not in held.blobs
        assert DELTA.sha256 not in held.blobs
        laptop.start()
        for project in ("alpha", "delta", "gamma", "junk"):  # nothing of theirs came in: no page at all
            assert laptop.get(f"/pypi/simple/{project}/").status_code == 404, project
        assert_serves(laptop, tree, ["acme-old", "acme-secret", "beta"])


def test_broken_inputs_are_reported_per_item_and_the_rest_is_hosted(
    source: Source, tmp_path: Path, database: Database
) -> None:
    tree, expected = broken_tree(source.tree, tmp_path)
    with import_into_new(tree, tmp_path / "restored", database, "local", failures=expected) as (restored, _):
        held = stored(restored)
    assert held.temp_files == ()
    projects = {project for index, project, _ in held.hosted_files if index == "local"}
    # gamma's page is unreadable, but its wheel is still a distribution in a directory: it is imported as one.
    assert projects == {"acme-old", "acme-secret", "beta", "delta", "gamma"}
