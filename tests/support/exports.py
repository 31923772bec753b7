"""What the export tests (tests/web/test_export.py, tests/e2e/test_export.py) put into a source server, how they
read the tree `rennet export` makes of it, and the servers they import it into.

The source holds, through a fake upstream, some of what its pages list (the rest stays unheld), and uploads of
its own in a hosted index, one yanked and one project deprecated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

from tests.support.accounts import add_user, rennet_cli
from tests.support.databases import Database
from tests.support.dists import make_sdist, make_wheel
from tests.support.hosting import ALICE, UPLOADS, upload
from tests.support.server import CliResult, LocalServer, RennetServer, Server
from tests.support.upstream import FakeUpstream, _free_port

CONFIG = UPLOADS

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
UPSTREAM = (ALPHA_1, ALPHA_2, ALPHA_SDIST, BETA_15, BETA_16, DELTA, GAMMA)
HELD = [ALPHA_2, BETA_15, BETA_16, DELTA, GAMMA, SECRET, SECRET_SDIST, SECRET_OLD, LEGACY]
PROJECTS = ["acme-old", "acme-secret", "alpha", "beta", "delta", "gamma"]


S = TypeVar("S", LocalServer, RennetServer)


@dataclass
class Source:
    server: Server
    tree: Path
    export_output: str


@contextlib.contextmanager
def exported_source(kind: type[S], base: Path, database: Database, fill: Callable[[S], None]) -> Iterator[Source]:
    """A source server of `kind` on base/data (its pypi's upstream a fake one that lists UPSTREAM), filled by
    `fill`, exported to base/tree by the real command while it runs; then the server and the upstream stop. Its
    catalog stays readable until the block ends."""
    with database.server_catalog() as url:
        upstream = FakeUpstream().start()
        upstream.add(*UPSTREAM)
        server = kind(base / "data", upstream_url=upstream.url, config=CONFIG, database_url=url).start()
        try:
            fill(server)
            tree = base / "tree"
            done = rennet_cli(server, "export", str(tree))  # while the server runs
            assert done.returncode == 0, done.stderr
        finally:
            server.stop()
            upstream.stop()
        yield Source(server, tree, done.stdout)


def publish_private(server: Server) -> None:
    """alice uploads the private projects to local; one file is yanked and one project deprecated."""
    add_user(server, *ALICE)
    upload(server, SECRET, SECRET_SDIST, SECRET_OLD, LEGACY)
    for command in (
        ("yank", "local", "acme-secret", "0.9", "--reason", "leaked key"),
        ("status", "local", "acme-old", "deprecated", "--reason", "use acme-secret"),
    ):
        done = rennet_cli(server, *command)
        assert done.returncode == 0, done.stderr


# -- servers the tree goes to -------------------------------------------------------------------------------------


def other_server(data_dir: Path, database_url: str | None, **options: Any) -> LocalServer:
    """An in-process server (not started) on another data directory; the upstream it names is gone."""
    upstream = f"http://127.0.0.1:{_free_port()}/simple/"
    return LocalServer(data_dir, upstream_url=upstream, config=CONFIG, database_url=database_url, **options)


@contextlib.contextmanager
def import_into_new(
    tree: Path,
    data_dir: Path,
    database: Database,
    index: str,
    *args: str,
    failures: dict[str, str] | None = None,
    **options: Any,
) -> Iterator[tuple[LocalServer, CliResult]]:
    """`rennet import` of the tree (with `args`) into `index` of an other_server on data_dir (with `options`),
    made for it and not started: the whole tree imported, or, given `failures`, exit code 1 and each of them
    reported. The server (if started) stops when the block ends, and its catalog is given back."""
    with database.server_catalog() as url:
        server = other_server(data_dir, url, **options)
        try:
            done = rennet_cli(server, "import", str(tree), "--index", index, *args)
            if failures is None:
                assert done.returncode == 0, done.stderr
                assert done.stdout.splitlines()[-1] == f"imported {tree_file_count(tree)}, skipped 0, failed 0"
            else:
                assert done.returncode == 1
                assert_failures(done.stderr, failures)
            yield server, done
        finally:
            server.stop()


# -- reading a tree ------------------------------------------------------------------------------------------------


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


def tree_file_count(tree: Path) -> int:
    return sum(len(page(tree, folder.name)["files"]) for folder in (tree / "simple").iterdir() if folder.is_dir())


# -- a damaged tree ------------------------------------------------------------------------------------------------


def broken_tree(tree: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the tree with one wrong file, one unreadable page, one non-archive and a link out of the tree;
    returns it with what must be reported for each."""
    broken = tmp_path / "broken"
    shutil.copytree(tree, broken)
    wrong = broken / "files" / "alpha" / ALPHA_2.filename
    wrong.write_bytes(ALPHA_2.data[:-1] + b"!")
    (broken / "simple" / "gamma" / "index.json").write_text('{"files": [{"filename": ')
    junk = b"not a zip at all"
    (broken / "files" / "junk").mkdir()
    (broken / "files" / "junk" / "junk-1.0-py3-none-any.whl").write_bytes(junk)
    (broken / "simple" / "junk").mkdir()
    links = [
        ("junk-1.0-py3-none-any.whl", "../../files/junk/junk-1.0-py3-none-any.whl", hashlib.sha256(junk).hexdigest()),
        ("junk-2.0.tar.gz", "http://elsewhere.invalid/junk-2.0.tar.gz", "0" * 64),
    ]
    junk_page = {
        "meta": {"api-version": "1.1"},
        "name": "junk",
        "files": [{"filename": name, "url": url, "hashes": {"sha256": digest}} for name, url, digest in links],
    }
    (broken / "simple" / "junk" / "index.json").write_text(json.dumps(junk_page))
    return broken, {
        str(wrong): "does not match the sha256 its page gives",
        str(broken / "simple" / "gamma" / "index.json"): "unreadable project page",
        str(broken / "files" / "junk" / "junk-1.0-py3-none-any.whl"): "not a readable wheel",
        "junk-2.0.tar.gz": "leads out of the tree",
    }


def break_delta_metadata(tree: Path, expected: dict[str, str]) -> None:
    """A .metadata file that does not match its page: a proxy serves the tree's .metadata files, so the import
    into one refuses its wheel (and says so)."""
    wrong_metadata = tree / "files" / "delta" / f"{DELTA.filename}.metadata"
    wrong_metadata.write_bytes(wrong_metadata.read_bytes() + b"Author: someone else\n")
    expected[str(tree / "files" / "delta" / DELTA.filename)] = "its .metadata does not match its page"


def assert_failures(stderr: str, expected: dict[str, str]) -> None:
    failures = [line for line in stderr.splitlines() if line.startswith("failed ")]
    assert len(failures) == len(expected), stderr
    for what, reason in expected.items():
        assert any(line.startswith(f"failed {what}: ") and reason in line for line in failures), (what, failures)
