"""The open descriptors behind bounded caches: a blob found and then deleted (evicted) before it is sent still goes
out whole, by pathsend or by reads; descriptors linger after use and are shared (what reaches a client of a running
server: tests/web/test_cache_bound.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from rennet.service.runtime.openblobs import OpenBlobs
from rennet.storage.blobs import LocalBlobStore
from rennet.web.responses import FileSend


class Recorder:
    def __init__(self) -> None:
        self.messages: list[MutableMapping[str, Any]] = []

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        self.messages.append(message)

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


def _scope(pathsend: bool, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    extensions: dict[str, Any] = {"http.response.pathsend": {}} if pathsend else {}
    return {"type": "http", "method": "GET", "headers": headers or [], "extensions": extensions}


async def _no_receive() -> dict[str, Any]:
    raise AssertionError("not expected to read the request")


def test_a_found_blob_deleted_before_sending_is_sent_whole(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    data = os.urandom(300_000)
    sha256 = store.put_bytes(data)
    pool = OpenBlobs(store, linger=30.0)
    for pathsend, headers, expected in (
        (False, [], data),
        (False, [(b"range", b"bytes=100-")], data[100:]),
        (True, [], data),
    ):
        lease = pool.lease(sha256)
        assert lease is not None
        store.delete(sha256)  # between finding the file and sending it
        recorder = Recorder()
        response = FileSend(lease.path, lease.size, f'"{sha256}"', lease=lease)
        asyncio.run(response(_scope(pathsend, headers), _no_receive, recorder))
        if pathsend:
            (sent,) = [m for m in recorder.messages if m["type"] == "http.response.pathsend"]
            assert sent["path"] == f"/proc/self/fd/{lease.fd}"
            assert Path(sent["path"]).read_bytes() == expected  # what the server opens afterwards
        else:
            assert recorder.body() == expected
        assert pool.lease(sha256) is None, "a deleted blob is not held"
        sha256 = store.put_bytes(data)
    pool.sweep(now=10**9)
    assert len(pool) == 0


def test_descriptors_linger_after_use_and_are_shared(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    sha256 = store.put_bytes(b"shared bytes")
    pool = OpenBlobs(store, linger=30.0)
    first, second = pool.lease(sha256), pool.lease(sha256)
    assert first is not None and second is not None
    assert first.fd == second.fd and len(pool) == 1
    first.release()
    second.release()
    pool.sweep()
    assert len(pool) == 1, "a descriptor outlives its last use (the server may not have opened it yet)"
    os.fstat(first.fd)
    pool.sweep(now=10**9)
    assert len(pool) == 0
    # The same name, other inode (deleted and stored again): a new descriptor, the old one retired.
    third = pool.lease(sha256)
    assert third is not None
    store.delete(sha256)
    store.put_bytes(b"shared bytes")
    fourth = pool.lease(sha256)
    assert fourth is not None and fourth.fd != third.fd and len(pool) == 2
    del third  # dropped unsent: released all the same
    fourth.release()
    pool.sweep(now=10**9)
    assert len(pool) == 0
    pool.close()
