"""Where the workers of a running `rennet serve` keep their metrics, so that one scrape adds up all of them.

prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR) has each worker write its values into
memory-mapped files of one directory, read together by whichever worker answers /metrics. Each server gets a new,
empty directory of its own below run/metrics/, held by a lock while its main process lives (the lock survives
the exec into Granian's supervisor). A server that starts removes the directories of servers that are gone and
never those of live ones: another server may share the data directory.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from pathlib import Path

from rennet.storage.blobs import OWNER_LOCK, owned

__all__ = ["MULTIPROCESS_VARIABLE", "claim_metrics_dir", "metrics_root"]

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's: the directory, for every worker


def metrics_root(data_dir: Path) -> Path:
    return data_dir / "run" / "metrics"


def claim_metrics_dir(data_dir: Path) -> Path:
    """A new, empty directory for this process and the workers it starts, locked until this process ends (its
    lock's descriptor is left open, and inherited across exec)."""
    root = metrics_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    # One claim at a time: a directory just made is not yet locked, and must not look abandoned meanwhile. Held as
    # the temporary directories of processes are (storage.blobs): an owner lock, free once its process is gone.
    claiming = os.open(root.with_name("metrics.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(claiming, fcntl.LOCK_EX)
        for directory in root.glob("server-*"):
            if not owned(directory):
                shutil.rmtree(directory, ignore_errors=True)
        directory = root / f"server-{os.getpid()}-{secrets.token_hex(4)}"
        directory.mkdir()
        owner = os.open(directory / OWNER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(owner, fcntl.LOCK_EX)
        os.set_inheritable(owner, True)
    finally:
        os.close(claiming)
    return directory
