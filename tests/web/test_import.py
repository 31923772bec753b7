"""`rennet import DIR`: existing wheels and sdists into a hosted index, checked as uploads, while a server runs.

One server per module (per catalog): every test imports its own project names. That pip installs what was
imported is in tests/e2e/test_import_clients.py.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from tests.support.accounts import rennet_cli
from tests.support.dists import Dist, make_sdist, make_wheel
from tests.support.hosting import ALICE, hosted_server
from tests.support.pages import json_files as files
from tests.support.server import LocalServer
from tests.support.uploads import hosted_file_row, post_upload, stored

server = hosted_server()


def put(directory: Path, dist: Dist, name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or dist.filename)
    path.write_bytes(dist.data)
    return path


def test_import_a_tree_while_the_server_runs(server: LocalServer, tmp_path: Path) -> None:
    wheel, sdist, other = make_wheel("impa", "1.0"), make_sdist("impa", "1.0"), make_wheel("Imp.B", "2.0")
    put(tmp_path / "tree" / "a", wheel)
    put(tmp_path / "tree" / "a" / "deeper", sdist)
    put(tmp_path / "tree", other)
    (tmp_path / "tree" / "README.txt").write_text("not a distribution")
    put(tmp_path / "tree" / ".cache", make_wheel("hidden", "1.0"))
    # Read the pages and lists first: what the workers keep in memory must not hide the import.
    assert server.get("/simple/impa/").status_code == 404
    assert "impa" not in server.get("/local/simple/").text + server.get("/simple/").text

    done = rennet_cli(server, "import", str(tmp_path / "tree"), "--index", "local", "--uploader", "carol")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "imported 3, skipped 0, failed 0, ignored 1 other file(s)"
    assert f"imported {wheel.filename} into local" in done.stderr

    for listing in ("/local/simple/", "/simple/"):
        text = server.get(listing).text
        assert "impa" in text and "imp-b" in text.lower() and "hidden" not in text
    entries = files(server, "/simple/impa/")
    assert set(entries) == {wheel.filename, sdist.filename}
    assert entries[wheel.filename]["hashes"] == {"sha256": wheel.sha256}
    assert wheel.metadata is not None
    assert entries[wheel.filename]["core-metadata"] == {"sha256": hashlib.sha256(wheel.metadata).hexdigest()}
    assert server.get(f"/local/files/impa/{wheel.filename}.metadata").content == wheel.metadata
    assert server.get(f"/local/files/impa/{sdist.filename}").content == sdist.data
    row = hosted_file_row(server, "local", wheel.filename)
    assert row is not None and row["uploaded_by"] == "carol"
    assert row["md5"] == hashlib.md5(wheel.data).hexdigest()
    assert server.get("/local/pypi/impa/json").json()["info"]["summary"] == "impa for tests"

    assert server.get(f"/local/files/imp-b/{other.filename}").content == other.data

    again = rennet_cli(server, "import", str(tmp_path / "tree"), "--index", "local")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "imported 0, skipped 3, failed 0, ignored 1 other file(s)"
    assert "the same file is there already" in again.stderr


def test_every_refused_file_is_reported_and_nothing_of_it_stays(server: LocalServer, tmp_path: Path) -> None:
    original = make_wheel("impc", "1.0")
    assert post_upload(server.url + "/local/", original, auth=ALICE).status_code == 200
    assert post_upload(server.url + "/local/", make_wheel("impg", "1.0"), auth=ALICE).status_code == 200
    assert rennet_cli(server, "status", "local", "impg", "archived").returncode == 0
    good = make_wheel("impd", "1.0")
    source = tmp_path / "mixed"
    put(source, good)
    refused = {
        put(source / "conflict", make_wheel("impc", "1.0", padding=64)): "File already exists",
        put(source, Dist("impe-1.0-py3-none-any.whl", b"not a zip at all")): "not a readable wheel",
        put(source, make_wheel("impf", "1.0"), "impf-2.0-py3-none-any.whl"): "contains metadata for version 1.0",
        put(source, make_sdist("impf", "3.0"), "impf-3.0.tar.bz2"): "expected a wheel",
        put(source, make_wheel("impg", "2.0")): "impg is archived and takes no uploads",
        put(source, make_sdist("impd", "1.0.0")): None,  # the first sdist of a release is fine...
        put(source / "zz", make_sdist("impd", "1.0")): "Only one sdist",  # ...a second one for 1.0 is not
    }
    before = stored(server)

    done = rennet_cli(server, "import", str(source), "--index", "local")
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == "imported 2, skipped 0, failed 6"
    failures = [line for line in done.stderr.splitlines() if line.startswith("failed ")]
    assert len(failures) == 6, done.stderr
    for path, reason in refused.items():
        if reason is not None:
            assert any(line.startswith(f"failed {path}: ") and reason in line for line in failures), (path, failures)

    after = stored(server)
    assert after.temp_files == (), "no temporary file may stay behind"
    assert after.hosted_files - before.hosted_files == {
        ("local", "impd", good.filename),
        ("local", "impd", "impd-1.0.0.tar.gz"),
    }
    assert hashlib.sha256(b"not a zip at all").hexdigest() not in after.blobs
    assert files(server, "/local/simple/impc/")[original.filename]["hashes"] == {"sha256": original.sha256}
    assert server.get("/local/simple/impe/").status_code == 404


def test_where_an_import_may_go(server: LocalServer, tmp_path: Path) -> None:
    dist = make_wheel("imph", "1.0")
    path = put(tmp_path / "one", dist)
    for args, message in [
        (("--index", "pypi"), "pypi is a mirror"),
        (("--index", "nowhere"), "there is no index named 'nowhere'"),
        (("--uploader", ""), "--uploader takes 1 to 100 characters"),
    ]:
        refused = rennet_cli(server, "import", str(path), *args)
        assert refused.returncode == 1 and message in refused.stderr, (args, refused.stderr)
    missing = rennet_cli(server, "import", str(tmp_path / "absent"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr

    # The default index is a group: like an upload to it, the import lands in its first hosted member.
    # --mtime keeps the file's own time as its upload time (uv --exclude-newer relies on it).
    moment = datetime(2020, 5, 17, 8, 30, tzinfo=UTC).timestamp()
    os.utime(path, (moment, moment))
    done = rennet_cli(server, "import", str(path), "--mtime")
    assert done.returncode == 0, done.stderr
    assert files(server, "/local/simple/imph/")[dist.filename]["upload-time"] == "2020-05-17T08:30:00Z"
