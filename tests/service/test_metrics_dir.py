"""Each `rennet serve` gets a metrics directory of its own below run/metrics/: a new one removes those of servers
that are gone, never those of live ones (another server may share the data directory)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rennet.storage.blobs import OWNER_LOCK
from rennet.storage.metricsdir import claim_metrics_dir, metrics_root


def _another_server(data_dir: Path, name: str, alive: bool) -> tuple[Path, int | None]:
    """A directory as another server leaves it: its lock held while it lives."""
    directory = metrics_root(data_dir) / name
    directory.mkdir(parents=True)
    (directory / "counter_123.db").write_bytes(b"x")
    fd = os.open(directory / OWNER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    if not alive:
        os.close(fd)
        return directory, None
    fcntl.flock(fd, fcntl.LOCK_EX)
    return directory, fd


def test_a_server_gets_a_new_empty_directory_and_removes_those_of_servers_gone(tmp_path: Path) -> None:
    gone, _ = _another_server(tmp_path, "server-1-dead", alive=False)
    live, fd = _another_server(tmp_path, "server-2-live", alive=True)
    try:
        mine = claim_metrics_dir(tmp_path)
        assert mine.parent == metrics_root(tmp_path)
        assert [path.name for path in mine.iterdir()] == [OWNER_LOCK]
        assert not gone.exists()
        assert (live / "counter_123.db").exists()
        # Ours is held too: the next server leaves it alone.
        second = claim_metrics_dir(tmp_path)
        assert mine.exists() and second != mine
    finally:
        assert fd is not None
        os.close(fd)
