"""A real `rennet serve` in a subprocess, on a free port, with its own data directory."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.procs import descendants, kill_tree
from tests.support.upstream import _free_port


def without_rennet_variables() -> dict[str, str]:
    """This environment minus RENNET_*: a rennet started from the tests takes its settings from flags only."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RENNET_")}


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

    def cli_command(self, *args: str, config: Path | None = None) -> list[str]:
        """`rennet <args>` on this data directory, with this server's configuration (written if it is not yet)
        or the file `config`."""
        command = [sys.executable, "-m", "rennet", *args, "--data-dir", str(self.data_dir)]
        if config is None and self.config_path is not None:
            config = self.config_path
            if not config.exists():
                assert self.config is not None
                config.write_text(self.config)
        if config is not None:
            command += ["--config", str(config)]
        return command

    def start(self, timeout: float = 30.0) -> RennetServer:
        env = without_rennet_variables()
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

    def blobs(self) -> set[str]:
        """sha256 names of the files in the blob store (only verified files may be there)."""
        root = self.data_dir / "blobs"
        return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()

    def partial_files(self) -> list[Path]:
        """Temporary files: downloads under way or left behind."""
        temp = self.data_dir / "tmp"
        return [p for p in temp.rglob("*") if p.is_file() and p.suffix != ".lock" and not p.name.startswith(".ready")]

    def access_lines(self) -> list[AccessLine]:
        """The access-log lines written so far, parsed."""
        return [AccessLine.parse(line) for line in self.log().splitlines() if " rennet.access: " in line]

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """The log once it contains text (log lines are written after the response is sent)."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in the log:\n{log[-3000:]}")
            time.sleep(0.02)
        return log

    def wait_for_access_lines(self, count: int, timeout: float = 10.0) -> list[AccessLine]:
        """The access-log lines once there are at least count of them."""
        deadline = time.monotonic() + timeout
        while len(lines := self.access_lines()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(lines)} access-log lines, not {count}:\n{self.log()[-3000:]}")
            time.sleep(0.02)
        return lines

    def wait_for_access(self, path: str, cache: str | None = None, timeout: float = 10.0) -> AccessLine:
        """The last access-log line for path (and cache outcome), once written."""
        deadline = time.monotonic() + timeout
        while True:
            found = [a for a in self.access_lines() if a.path == path and (cache is None or a.cache == cache)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no access-log line for {path} ({cache}):\n{self.log()[-3000:]}")
            time.sleep(0.02)

    def raw(self, method: str, target: str, headers: dict[str, str] | None = None) -> RawResponse:
        """A request with the target sent byte for byte (httpx would normalize dot segments and escapes)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def head(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.head(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


_ACCESS = re.compile(
    r'"(?P<method>\S+) (?P<path>\S+)" (?P<status>\d+) (?P<bytes>\d+) (?P<ms>[\d.]+)ms (?P<cache>\S+)$'
)


@dataclass(frozen=True)
class AccessLine:
    method: str
    path: str
    status: int
    bytes: int
    milliseconds: float
    cache: str

    @classmethod
    def parse(cls, line: str) -> AccessLine:
        match = _ACCESS.search(line)
        assert match, f"access-log line without method, path, status, bytes, duration and cache: {line!r}"
        return cls(
            match["method"],
            match["path"],
            int(match["status"]),
            int(match["bytes"]),
            float(match["ms"]),
            match["cache"],
        )


def proxy_config(index: str = "pypi", upstream: str | None = None, **options: str | int | bool) -> str:
    """A TOML table for one proxy index: proxy_config(page_ttl="1s", read_timeout="0.5s")."""
    lines = [f"[index.{index}]", 'type = "proxy"']
    if upstream is not None:
        lines.append(f'upstream = "{upstream}"')
    for key, value in options.items():
        rendered = (
            str(value).lower() if isinstance(value, bool) else repr(value) if isinstance(value, int) else f'"{value}"'
        )
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"
