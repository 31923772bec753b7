"""A real `rennet serve` in a subprocess, on a free port, with its own data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

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
        if self.config is not None:
            config_path = self.data_dir.parent / f"rennet-{self.port}.toml"
            config_path.write_text(self.config)
            command += ["--config", str(config_path)]
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
