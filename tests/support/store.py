"""Looking into a server's store from the tests: its catalog (SQLite or PostgreSQL), its blobs, and commands."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from rennet.storage.catalog import HostedUpload
from tests.support.server import CliResult, Server


def cli(server: Server, *args: str, config: str | None = None, stdin: str | None = None) -> CliResult:
    """`rennet <args>` on the server's data directory and database, with its configuration or another one
    (`config` TOML), and its upstream."""
    path = None
    if config is not None:
        path = server.data_dir.parent / f"cli-{server.port}.toml"
        path.write_text(config)
    if server.upstream_url and "serve" not in args:
        args = (*args, "--upstream", server.upstream_url)
    return server.cli(*args, stdin=stdin, config=path)


def stats(server: Server) -> dict[str, Any]:
    """What `rennet stats --json` reports of the server's data directory."""
    done = cli(server, "stats", "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def database_url(server: Server) -> str:
    return server.database_url or f"sqlite:///{server.data_dir / 'rennet.sqlite3'}"


def query(server: Server, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the server's catalog; `?` marks the parameters, as in sqlite3, on either database."""
    return [tuple(row) for row in _rows(server, sql, params)]


def records(server: Server, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of a query as dicts of column name to value."""
    return [dict(row._mapping) for row in _rows(server, sql, params)]


def _rows(server: Server, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """Run one statement in a transaction of its own; the rows it returns (none for a change)."""
    numbers = iter(range(len(params)))
    statement = re.sub(r"\?", lambda _: f":p{next(numbers)}", sql)
    engine = create_engine(database_url(server), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), {f"p{i}": value for i, value in enumerate(params)})
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def file_row(server: Server, filename: str) -> dict[str, Any]:
    """The catalog row of a file (of whichever index has it)."""
    found = records(server, "SELECT * FROM files WHERE filename = ?", filename)
    assert found, f"no catalog row for {filename}"
    return found[0]


def hosted_upload(filename: str, sha256: str = "a" * 64) -> HostedUpload:
    """What the catalog records of an upload of alice's (one byte, other digests zero), for catalog tests that
    add hosted files without a server."""
    return HostedUpload(
        filename=filename,
        version="1.0",
        sha256=sha256,
        md5="0" * 32,
        blake2b_256="0" * 64,
        size=1,
        requires_python=None,
        metadata_sha256=None,
        uploaded_by="alice",
        upload_time=time.time(),
    )


def wait_until_held(server: Server, filename: str, sha256: str) -> None:
    """A client may finish as soon as the bytes are verified: the blob and its catalog row follow just after."""
    wait_until(
        lambda: blob_path(server, sha256).exists() and file_row(server, filename)["blob_sha256"] == sha256,
        f"{filename} is held",
    )


def blob_path(server: Server, sha256: str) -> Path:
    return server.data_dir / "blobs" / sha256[:2] / sha256[2:4] / sha256


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Wait for something the server does in the background; fail (saying what) if it never happens."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)
