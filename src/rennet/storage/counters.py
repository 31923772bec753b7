"""Request counters of a running server, in one memory-mapped file beside the generation counters.

Each worker process owns a row, held by a lock on its byte range while the worker lives, and adds to it without
further locking: one memory write per request. `rennet stats` sums the rows. `rennet serve` zeroes the file when
it starts, so the numbers count since then; a worker that replaces one that died takes over its row and adds on.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import time
from pathlib import Path

from rennet.storage._mapped import map_allocated

__all__ = ["FIELDS", "RequestCounters", "counters_path", "read_counters", "reset_counters"]


def counters_path(data_dir: Path) -> Path:
    """Where the server running on a data directory counts its requests."""
    return data_dir / "run" / "counters"


# Cache outcomes of project pages and distribution files, as the access log names them.
FIELDS = (
    "page_hit",
    "page_miss",
    "page_refresh",
    "page_stale",
    "page_error",
    "file_hit",
    "file_miss",
    "file_error",
)
_INDEX = {name: number for number, name in enumerate(FIELDS)}
_HEADER = struct.Struct("<8sd")  # magic, when the server started
_MAGIC = b"rennetc1"
_ROW = struct.Struct(f"<{len(FIELDS)}Q")
_VALUE = struct.Struct("<Q")
ROWS = 256
_SIZE = _HEADER.size + ROWS * _ROW.size


class RequestCounters:
    """This worker's row."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._map = map_allocated(self._fd, _SIZE)
        if _HEADER.unpack_from(self._map, 0)[0] != _MAGIC:
            # Served without `rennet serve` (uvicorn): the first worker stamps the start.
            _HEADER.pack_into(self._map, 0, _MAGIC, time.time())
        self._offset = _HEADER.size + self._claim_row() * _ROW.size

    def _claim_row(self) -> int:
        for row in range(ROWS):
            try:
                # A POSIX record lock: released when this process ends, however it ends.
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, _ROW.size, _HEADER.size + row * _ROW.size)
            except OSError:
                continue
            return row
        return ROWS - 1  # more live workers than rows: share the last one (a lost count now and then)

    def count(self, kind: str, outcome: str) -> None:
        """One more request of a kind ("page", "file") with a cache outcome ("hit", "miss", "stale"...)."""
        field = _INDEX.get(f"{kind}_{outcome}")
        if field is None:
            field = _INDEX[f"{kind}_miss"]
        offset = self._offset + field * _VALUE.size
        _VALUE.pack_into(self._map, offset, _VALUE.unpack_from(self._map, offset)[0] + 1)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._map.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)


def reset_counters(path: Path) -> None:
    """Zero every row (a server starts), stamped with the moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = bytearray(_SIZE)
    _HEADER.pack_into(data, 0, _MAGIC, time.time())
    temp = path.with_name(path.name + ".new")
    temp.write_bytes(bytes(data))
    # A new file, not writes into the old one: workers of a previous run still mapping it keep their own.
    os.replace(temp, path)


def read_counters(path: Path) -> tuple[float, dict[str, int]] | None:
    """(when the server started, totals per field), or None when no server has run here."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < _SIZE:
        return None
    magic, started = _HEADER.unpack_from(data, 0)
    if magic != _MAGIC:
        return None
    totals = dict.fromkeys(FIELDS, 0)
    for row in range(ROWS):
        for name, value in zip(FIELDS, _ROW.unpack_from(data, _HEADER.size + row * _ROW.size), strict=True):
            totals[name] += value
    return started, totals
