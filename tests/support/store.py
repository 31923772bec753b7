"""Looking into a data directory from the tests: the catalog, the blobs, and the maintenance commands."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.server import RennetServer, without_rennet_variables


def cli(
    server: RennetServer, *args: str, config: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`rennet <args>` on the server's data directory, with its configuration or another one (`config` TOML)."""
    path = None
    if config is not None:
        path = server.data_dir.parent / f"cli-{server.port}.toml"
        path.write_text(config)
    command = server.cli_command(*args, config=path)
    if server.upstream_url:
        command += ["--upstream", server.upstream_url]
    return subprocess.run(command, capture_output=True, text=True, env=without_rennet_variables(), timeout=timeout)


def query(server: RennetServer, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(server.data_dir / "rennet.sqlite3", timeout=30) as connection:
        return connection.execute(sql, params).fetchall()


def file_row(server: RennetServer, filename: str) -> dict[str, Any]:
    """The catalog row of a file (of whichever index has it)."""
    with sqlite3.connect(server.data_dir / "rennet.sqlite3", timeout=30) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute("SELECT * FROM files WHERE filename = ?", (filename,)).fetchone()
    assert row is not None, f"no catalog row for {filename}"
    return dict(row)


def wait_until_held(server: RennetServer, filename: str, sha256: str) -> None:
    """A client may finish as soon as the bytes are verified: the blob and its catalog row follow just after."""
    wait_until(
        lambda: blob_path(server, sha256).exists() and file_row(server, filename)["blob_sha256"] == sha256,
        f"{filename} is held",
    )


def blob_path(server: RennetServer, sha256: str) -> Path:
    return server.data_dir / "blobs" / sha256[:2] / sha256[2:4] / sha256


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Wait for something the server does in the background; fail (saying what) if it never happens."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)
