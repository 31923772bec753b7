"""A full disk under a running server: uploads and new pages get 507 with a sentence, nothing partial stays, and
everything works again once there is space. The data directory is on a small tmpfs of the test's own (root)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.accounts import add_user
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE
from tests.support.server import RennetServer, proxy_config
from tests.support.uploads import post_upload
from tests.support.upstream import FakeUpstream

CONFIG = proxy_config(page_ttl="0s") + '[index.local]\nupload = ["alice"]\n'


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB file system, mounted for this test (the tests run as root in CI; see README, Tests)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    assert done.returncode == 0, f"mounting a tmpfs needs root: {done.stderr.decode()}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Take every free byte of the disk; the file that holds them."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 64 << 10, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as error:
                    assert error.errno == errno.ENOSPC, error
                    break
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_named_and_nothing_partial_stays(small_disk: Path, upstream: FakeUpstream) -> None:
    upstream.add(*(make_wheel("newcomer", f"1.{n}", padding=2000) for n in range(40)))
    server = RennetServer(small_disk / "data", upstream_url=upstream.url, config=CONFIG).start()
    try:
        add_user(server, *ALICE)
        before = make_wheel("before", "1.0")
        assert post_upload(server.url + "/local/", before, auth=ALICE).status_code == 200
        blobs = server.blobs()
        filler = _fill(small_disk)

        upload = post_upload(server.url + "/local/", make_wheel("too-big", "1.0", padding=500_000), auth=ALICE)
        assert upload.status_code == 507, upload.text
        assert "disk is full" in upload.text
        page = server.get("/pypi/simple/newcomer/")
        assert page.status_code == 507, page.text
        assert "disk is full" in page.text
        assert server.partial_files() == []
        assert server.blobs() == blobs
        assert server.get("/local/simple/before/").status_code == 200  # what was there is still served
        assert "Traceback" not in server.log()

        filler.unlink()
        again = post_upload(server.url + "/local/", make_wheel("too-big", "1.0", padding=500_000), auth=ALICE)
        assert again.status_code == 200, again.text
        assert server.get("/pypi/simple/newcomer/").status_code == 200
    finally:
        server.stop()
