"""Uploads through a real `rennet serve`: what a large upload costs its worker processes in memory (the upload API
itself is tested over HTTP in tests/web/test_uploads.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support.accounts import add_user
from tests.support.dists import make_wheel, write_large_wheel
from tests.support.hosting import ALICE, UPLOADS
from tests.support.pages import json_files as page
from tests.support.procs import memory_kib
from tests.support.server import RennetServer
from tests.support.uploads import Multipart, digests, post_upload
from tests.support.upstream import NOWHERE


def test_large_upload_streams_with_bounded_memory(
    process_factory: Callable[..., RennetServer], tmp_path: Path
) -> None:
    """200 MB through the server: its workers' peak memory must not grow anywhere near the file's size."""
    server = process_factory(config=UPLOADS, upstream_url=NOWHERE)
    add_user(server, *ALICE)
    size = 200 << 20
    path = write_large_wheel(tmp_path, "bigfile", "1.0", size)
    # Warm up with the same credentials: the first password check and the first upload take what they take, once.
    assert post_upload(server.url + "/local/", make_wheel("bigfile", "0.1"), auth=ALICE).status_code == 200
    workers = server.worker_pids()
    assert workers, "rennet serve runs its app in worker processes"
    peak_before = {pid: memory_kib(pid, "VmHWM") for pid in workers}
    assert all(peak_before.values()), peak_before

    response = post_upload(server.url + "/local/", Multipart.for_file(path), auth=ALICE, timeout=600)
    assert response.status_code == 200, response.text

    peak_after = {pid: memory_kib(pid, "VmHWM") for pid in workers}
    assert all(peak_after.values()), f"a worker is gone: {peak_after}"
    growth = max(peak_after[pid] - peak_before[pid] for pid in workers) * 1024
    assert growth < size // 8, f"peak memory grew by {growth >> 20} MiB for a {size >> 20} MiB upload"
    entry = page(server, "/local/simple/bigfile/")[path.name]
    assert entry["size"] == path.stat().st_size
    assert entry["hashes"] == {"sha256": digests(path)["sha256_digest"]}
