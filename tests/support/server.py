"""rennet servers for the tests, on a free loopback port, each with its own data directory (and database).

`LocalServer` runs the ASGI application on Granian embedded in a thread of the test process: real HTTP on a real
socket, zero-copy file sends included, started in a few milliseconds, with the command-line tools run in-process
against it. `RennetServer` is a real `rennet serve` in a subprocess, for what only a process can show: workers,
signals, restarts, kill -9. Both offer the same interface, so a test written against one runs against the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.procs import descendants, kill_tree
from tests.support.upstream import NOWHERE, _free_port

# What every test server uses unless a test says otherwise: password hashes that cost microseconds, not a fifth
# of a second and 64 MiB each (the cost is a setting; what it protects is tested with the default elsewhere).
TEST_SETTINGS = {"RENNET_ARGON2_TIME_COST": "1", "RENNET_ARGON2_MEMORY_COST": "64K"}


def without_rennet_variables() -> dict[str, str]:
    """This environment minus RENNET_*: a rennet started from the tests takes its settings from the test only."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RENNET_")}


@dataclass(frozen=True)
class CliResult:
    """What a command printed and how it exited (subprocess.CompletedProcess's fields the tests read)."""

    returncode: int
    stdout: str
    stderr: str


def _hermetic_upstream(config: str | None) -> str | None:
    """NOWHERE for a server whose built-in pypi proxy would otherwise point at PyPI: no test reaches the public
    index, also not through a default group it did not mean to ask. None when the configuration names an upstream
    for pypi (RENNET_UPSTREAM would override it) or makes pypi another kind of index."""
    pypi = tomllib.loads(config or "").get("index", {}).get("pypi", {})
    return None if "upstream" in pypi or pypi.get("type", "proxy") != "proxy" else NOWHERE


class Server:
    """What tests ask of a server, whichever way it runs."""

    def __init__(
        self,
        data_dir: Path,
        upstream_url: str | None = None,
        config: str | None = None,
        offline: bool = False,
        env: Mapping[str, str] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.upstream_url = upstream_url or _hermetic_upstream(config)
        self.config = config
        self.offline = offline
        self.extra_env = dict(env or {})
        self.database_url = database_url
        self.port = _free_port()
        self.log_path = data_dir.parent / f"rennet-{self.port}.log"

    # -- running -----------------------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> Server:
        raise NotImplementedError

    def stop(self, timeout: float = 15.0) -> int | None:
        raise NotImplementedError

    def restart(self, **changes: object) -> Server:
        self.stop()
        for key, value in changes.items():
            setattr(self, key, value)
        return self.start()

    def cli(self, *args: str, stdin: str | None = None, config: Path | None = None) -> CliResult:
        """`rennet <args>` on this server's data directory and database, with its configuration or `config`."""
        raise NotImplementedError

    def settings_environment(self, config: Path | None = None) -> dict[str, str]:
        """The RENNET_* variables that describe this server (commands get the same, with `config` if given)."""
        variables = dict(TEST_SETTINGS)
        variables["RENNET_DATA_DIR"] = str(self.data_dir)
        if self.upstream_url:
            variables["RENNET_UPSTREAM"] = self.upstream_url
        if self.offline:
            variables["RENNET_OFFLINE"] = "1"
        if self.database_url:
            variables["RENNET_DATABASE_URL"] = self.database_url
        config = config or self.config_path
        if config is not None:
            variables["RENNET_CONFIG"] = str(config)
        variables.update(self.extra_env)
        return variables

    @property
    def config_path(self) -> Path | None:
        """Where the TOML given as `config` is written (the CLI tools read the same one)."""
        if self.config is None:
            return None
        path = self.data_dir.parent / f"rennet-{self.port}.toml"
        if not path.exists() or path.read_text() != self.config:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.config)
        return path

    # -- addresses and requests ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simple(self) -> str:
        return f"{self.url}/simple/"

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, **({"timeout": 30} | kwargs))

    def head(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.head(self.url + path, **({"timeout": 30} | kwargs))

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

    def wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"rennet did not start in {timeout}s:\n{self.log()}")

    def _check_alive(self) -> None:
        """Raise if the server has died while starting."""

    # -- what it wrote ---------------------------------------------------------------------------------------------

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


class LocalServer(Server):
    """rennet's application on Granian, embedded in a thread of the test process."""

    def __init__(self, data_dir: Path, **options: Any) -> None:
        super().__init__(data_dir, **options)
        self._thread: threading.Thread | None = None
        self._stopper: Any = None
        self._failure: BaseException | None = None
        self._handler: logging.Handler | None = None
        self._access: io.TextIOWrapper | None = None
        self.app: Any = None

    def start(self, timeout: float = 30.0) -> LocalServer:
        # Imported on first use: the unit tests never start a server.
        from granian.constants import Interfaces
        from granian.server.embed import Server as Granian

        from rennet.config import load_settings
        from rennet.service.registry import prepare_data_dir
        from rennet.web.app import create_app
        from tests.support.databases import migrated_sqlite

        if self.database_url is None:
            migrated_sqlite(self.data_dir)
        settings = load_settings(self.settings_environment())
        prepare_data_dir(settings)
        self._access = self.log_path.open("a", buffering=1)
        self._handler = _capture_logs(self.log_path, self.thread_prefix)
        self.app = create_app(settings, migrated=True, access_log=self._access)
        ready = threading.Event()
        self._failure = None

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.set_default_executor(ThreadPoolExecutor(8, thread_name_prefix=self.thread_prefix))
            server = Granian(
                self.app, address="127.0.0.1", port=self.port, interface=Interfaces.ASGI, log_enabled=False
            )
            self._stopper = lambda: loop.call_soon_threadsafe(server.stop)
            ready.set()
            try:
                loop.run_until_complete(server.serve())
            except BaseException as error:
                self._failure = error
            finally:
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()
                self._stopper = None

        self._thread = threading.Thread(target=serve, name=self.thread_prefix, daemon=True)
        self._thread.start()
        ready.wait(timeout)
        self.wait_until_up(timeout)
        return self

    @property
    def registry(self) -> Any:
        """The running application's Registry (its accounts, store and index services)."""
        layer = self.app
        while not hasattr(layer, "state"):  # the ASGI wrappers around Starlette
            layer = layer.app
        return layer.state.registry

    @property
    def thread_prefix(self) -> str:
        return f"rennet-{self.port}"

    def _check_alive(self) -> None:
        if self._thread is not None and not self._thread.is_alive():
            raise RuntimeError(f"rennet stopped while starting: {self._failure!r}\n{self.log()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        if self._thread is None:
            return None
        stopper = self._stopper
        if stopper is not None:
            stopper()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"rennet on port {self.port} did not stop in {timeout}s")
        self._thread = None
        if self._handler is not None:
            logging.getLogger("rennet").removeHandler(self._handler)
            self._handler.close()
        if self._access is not None:
            self._access.close()
        return 0

    def cli(self, *args: str, stdin: str | None = None, config: Path | None = None) -> CliResult:
        from rennet.cli.main import main

        out, err = io.StringIO(), io.StringIO()
        with (
            _environment(self.settings_environment(config)),
            _stdin(stdin or ""),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = main(list(args))
            except SystemExit as exit:  # argparse refusing the arguments
                code = exit.code if isinstance(exit.code, int) else 2
        self._hear_changes()
        return CliResult(code, out.getvalue(), err.getvalue())

    def _hear_changes(self) -> None:
        """On PostgreSQL, a command's changes reach the server by notification, milliseconds after the command
        returned (on one host's SQLite, at once): what the test asks next must find them heard."""
        generations = self.registry.store.generations if self._thread is not None else None
        if generations is not None and hasattr(generations, "caught_up"):
            deadline = time.monotonic() + 10
            while not generations.caught_up():
                if time.monotonic() > deadline:
                    raise AssertionError("the server never heard of the command's changes")
                time.sleep(0.01)


class RennetServer(Server):
    """A real `rennet serve` in a subprocess."""

    def __init__(self, data_dir: Path, workers: int = 1, **options: Any) -> None:
        super().__init__(data_dir, **options)
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """`rennet serve` with the flags a user would give; the database and the test settings come by variable."""
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
            command += ["--config", str(self.config_path)]
        if self.offline:
            command.append("--offline")
        if self.workers != 1:
            command += ["--workers", str(self.workers)]
        return command

    def environment(self, config: Path | None = None) -> dict[str, str]:
        return without_rennet_variables() | self.settings_environment(config)

    def start(self, timeout: float = 30.0) -> RennetServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.environment())
        self.wait_until_up(timeout)
        return self

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"rennet exited with {self.process.returncode}:\n{self.log()}")

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

    def cli(self, *args: str, stdin: str | None = None, config: Path | None = None) -> CliResult:
        """The real command, in a process of its own."""
        result = subprocess.run(
            [sys.executable, "-m", "rennet", *args],
            input=stdin or "",
            capture_output=True,
            text=True,
            env=self.environment(config),
            timeout=120,
        )
        return CliResult(result.returncode, result.stdout, result.stderr)


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """os.environ with exactly these RENNET_* variables, for an in-process command."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("RENNET_")]:
        del os.environ[key]
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def _capture_logs(path: Path, thread_prefix: str) -> logging.Handler:
    """The server's log lines (not another server's: each runs in threads named after its port) into its log, as
    `rennet serve` writes them (with the request id)."""
    from rennet.web.logs import RequestIdFilter, TextFormatter

    handler = logging.FileHandler(path)
    handler.setFormatter(TextFormatter())
    handler.addFilter(lambda record: (record.threadName or "").startswith(thread_prefix))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("rennet")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


_ACCESS = re.compile(
    r'"(?P<method>\S+) (?P<path>\S+)" (?P<status>\d+) (?P<bytes>\d+) (?P<ms>[\d.]+)ms (?P<cache>\S+)'
    r" request=(?P<request_id>\S+)$"
)


@dataclass(frozen=True)
class AccessLine:
    method: str
    path: str
    status: int
    bytes: int
    milliseconds: float
    cache: str
    request_id: str

    @classmethod
    def parse(cls, line: str) -> AccessLine:
        match = _ACCESS.search(line)
        assert match, f"access-log line without method, path, status, bytes, duration, cache and id: {line!r}"
        return cls(
            match["method"],
            match["path"],
            int(match["status"]),
            int(match["bytes"]),
            float(match["ms"]),
            match["cache"],
            match["request_id"],
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
