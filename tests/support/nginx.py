"""nginx started by a test, with a configuration of the test's own (the README's blocks), on a free port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.upstream import _free_port


def binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    assert found, "nginx is not installed: ./scripts/test installs it (scripts/system-packages)"
    return found


@contextlib.contextmanager
def running(server_block: str, directory: Path) -> Iterator[int]:
    """nginx with this `server { ... }` block, in which LISTEN_PORT stands for its port; yields the port."""
    port = _free_port()
    directory.mkdir(parents=True, exist_ok=True)
    # As root, nginx's workers would run as nobody, who cannot read the test's private temporary directories.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temporary = "".join(
        f"{kind}_temp_path {directory}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = directory / "nginx.conf"
    config.write_text(
        f"daemon off;\n{user}worker_processes 1;\npid {directory}/nginx.pid;\nerror_log {directory}/error.log;\n"
        f"events {{}}\nhttp {{\naccess_log off;\n{temporary}{server_block.replace('LISTEN_PORT', str(port))}\n}}\n"
    )
    process = subprocess.Popen([binary(), "-c", str(config), "-p", str(directory)], stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise AssertionError("nginx did not listen")
