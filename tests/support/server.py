"""A real `rennet serve` in a subprocess, on a free port, with its own data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.procs import descendants, kill_tree
from tests.support.upstream import _free_port


class RennetServer:
    def __init__(
        self,
        data_dir: Path,
        upstream_url: str | None = None,
        config: str | None = None,
        offline: bool = False,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.upstream_url = upstream_url
        self.config = config
        self.offline = offline
        self.workers = workers
        self.extra_env = env or {}
        self.port = _free_port()
        self.log_path = data_dir.parent / f"rennet-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simple(self) -> str:
        return f"{self.url}/simple/"

    @property
    def config_path(self) -> Path | None:
        """Where the TOML given as `config` is written (the CLI tools must read the same one)."""
        return None if self.config is None else self.data_dir.parent / f"rennet-{self.port}.toml"

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "rennet",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self.upstream_url:
            command += ["--upstream", self.upstream_url]
        if self.config_path is not None:
            assert self.config is not None
            self.config_path.write_text(self.config)
            command += ["--config", str(self.config_path)]
        if self.offline:
            command.append("--offline")
        if self.workers != 1:
            command += ["--workers", str(self.workers)]
        return command

    def start(self, timeout: float = 30.0) -> RennetServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RENNET_")}
        env.update(self.extra_env)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rennet exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"rennet did not start in {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the server and its worker processes at once, as a crash or the OOM killer would."""
        if self.process is not None and self.process.poll() is None:
            kill_tree(self.process.pid)
            self.process.wait()

    def worker_pids(self) -> list[int]:
        """The processes serving requests (Granian's workers), below the main process."""
        assert self.process is not None
        return descendants(self.process.pid)

    def restart(self, **changes: object) -> RennetServer:
        self.stop()
        for key, value in changes.items():
            setattr(self, key, value)
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def head(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.head(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]
