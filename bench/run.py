#!/usr/bin/env python3
"""Measure rennet side by side with its peers, on this machine, in one run.

    python bench/run.py                 # everything (about 8 minutes on a quiet 2-core machine)
    python bench/run.py --only rennet   # a subset of rows (nginx and direct are always measured)
    python bench/run.py --profile       # also record py-spy profiles of rennet under each load (not timed)

What it does, in order:
1. builds a static PEP 503 + PEP 691 fixture tree (bench/fixture.py) under bench/work/fixture;
2. serves it with nginx (a child process with its own config, one worker) and puts a latency proxy
   (bench/latency_proxy.py, +20 ms per connection and per request) in front of it: the "upstream";
3. creates one throwaway venv per server under bench/work/venvs (rennet from this checkout, devpi-server, proxpi)
   and one for the clients (pip, uv, py-spy); the venvs are kept between runs, rennet is reinstalled every run;
4. for each server: starts it with a fresh data directory and the upstream behind the latency proxy, times cold
   installs (pip, uv), warm installs, then load-tests a page, a 304, a small and a large file with wrk, and
   reads the memory of its process tree; stops it;
5. prints one table and the targets, and writes bench/work/results.json and bench/work/results.md.

Install times are the fastest of their samples and rates the best of their wrk runs: on a shared machine other
work only ever slows a run down. Every timed run first waits (briefly) for other processes to go quiet, and the
CPU they used during it is measured: disturbed runs are repeated once, then reported.

No traffic leaves the machine during the benchmark: every server's only upstream is the local nginx, pip and uv run
with --isolated / PIP_CONFIG_FILE=/dev/null / UV_NO_CONFIG=1 and no PIP_* or UV_* variables. Only the setup step
(creating the venvs) installs the peers from the package registry.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture import LEAVES, MIDS, Fixture, build_fixture, trees_for

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
T = TypeVar("T")

# What each throwaway venv holds. rennet comes from this checkout; the peers from the package registry.
VENVS: dict[str, list[str]] = {
    "client": ["pip", "uv", "py-spy"],
    "rennet": [f"{REPO}[postgres,s3]"],
    "devpi": ["devpi-server", "devpi-client"],
    "proxpi": ["proxpi", "gunicorn"],
}
VERSION_OF = {
    "client": ["pip", "uv"],
    "rennet": ["rennet", "granian", "starlette"],
    "devpi": ["devpi-server", "devpi-client"],
    "proxpi": ["proxpi", "gunicorn", "flask"],
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- environment -----------------------------------------------------------------------------------------------


def hermetic_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points pip, uv or a server elsewhere."""
    drop = ("PIP_", "UV_", "RENNET_", "PROXPI_", "DEVPI")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "UV_NO_CONFIG": "1"})
    env.update(extra)
    return env


def ensure_tools() -> None:
    missing = [tool for tool in ("nginx", "wrk") if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists()]
    if missing:
        log(f"installing {' '.join(missing)} with apt-get")
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, stdout=subprocess.DEVNULL)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def ensure_venv(name: str, reinstall_rennet: bool = True) -> Path:
    """A venv under bench/work/venvs/NAME with VENVS[NAME] installed (setup: this is the only registry traffic)."""
    path = WORK / "venvs" / name
    marker = path / ".bench-requirements"
    wanted = json.dumps(VENVS[name])
    python = path / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not marker.exists() or marker.read_text() != wanted:
        log(f"creating venv {name}: {' '.join(VENVS[name])}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        subprocess.run([*pip, "--upgrade", "pip"], check=True, env=env)
        subprocess.run([*pip, *VENVS[name]], check=True, env=env)
        marker.write_text(wanted)
    elif name == "rennet" and reinstall_rennet:
        log("reinstalling rennet from this checkout")
        subprocess.run([*pip, f"{REPO}[postgres,s3]"], check=True, env=env)  # new dependencies, if any
        subprocess.run([*pip, "--no-deps", "--force-reinstall", str(REPO)], check=True, env=env)
    return path


def rennet_source() -> str:
    """The commit rennet was installed from, and whether src/ had uncommitted changes (read-only git)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%h %s"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "pyproject.toml"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return commit + (f" (+{len(dirty)} uncommitted files in src/)" if dirty else "")


def venv_versions(name: str) -> dict[str, str]:
    python = WORK / "venvs" / name / "bin" / "python"
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    result = subprocess.run([str(python), "-c", code, *VERSION_OF[name]], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def machine_facts() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    nginx = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True).stderr.strip()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[:1]
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
        "nginx": nginx.replace("nginx version: ", ""),
        "wrk": wrk[0].split(" [")[0] if wrk else "?",
    }


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


# -- processes ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child process in its own session, so that stop() ends it and only its own children."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
        self.name = name
        self.log_path = WORK / "logs" / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def pids(self) -> list[int]:
        """The server's processes (their trees' memory is the row's)."""
        return [self.popen.pid]

    @property
    def helper_pids(self) -> list[int]:
        """Processes of the row's own beside the server (a load balancer): their CPU is the benchmark's."""
        return []

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        # Children that outlived their parent (same process group, which we created).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def wait_http(url: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited ({process.popen.returncode}):\n{process.tail()}")
        with contextlib.suppress(OSError, urllib.error.URLError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not answer {url} within {timeout:.0f} s:\n{process.tail()}")


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def memory_mb(pids: list[int]) -> tuple[float, float]:
    """(RSS, PSS) of the processes and all their descendants, in MiB. PSS splits pages shared after fork."""
    rss = pss = 0
    for member in [member for pid in pids for member in process_tree(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return rss / 1024, pss / 1024


# -- nginx and the latency proxy ---------------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes 1;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    types {{ }}
    default_type application/octet-stream;
    # PEP 691: index.json when the client asks for the JSON form, index.html otherwise.
    map $http_accept $simple_index {{
        default index.html;
        "~*application/vnd\\.pypi\\.simple\\.v1\\+json" index.json;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
        absolute_redirect off;
        location /simple/ {{
            types {{ text/html html; application/vnd.pypi.simple.v1+json json; }}
            index $simple_index;
            add_header Vary Accept always;
        }}
        location /files/ {{
        }}
    }}
}}
"""


def start_nginx(root: Path, port: int) -> Process:
    tmp = Path(tempfile.mkdtemp(prefix="nginx-", dir=WORK))
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root.resolve()))
    command = [nginx_binary(), "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"]
    process = Process("nginx", command)
    wait_http(f"http://127.0.0.1:{port}/simple/", process)
    return process


UPSTREAM_LOG = WORK / "logs" / "upstream-requests.log"


def upstream_lines() -> list[str]:
    with contextlib.suppress(OSError):
        return UPSTREAM_LOG.read_text().splitlines()
    return []


def upstream_traffic(since: int) -> tuple[int, int]:
    """(requests, connections) the latency proxy saw after line number since."""
    lines = upstream_lines()[since:]
    connections = sum(1 for line in lines if line.endswith(" CONNECT"))
    return len(lines) - connections, connections


def start_latency_proxy(target_port: int, port: int, delay_ms: float) -> Process:
    UPSTREAM_LOG.parent.mkdir(parents=True, exist_ok=True)
    UPSTREAM_LOG.write_text("")
    command = [
        sys.executable,
        str(BENCH / "latency_proxy.py"),
        "--listen",
        f"127.0.0.1:{port}",
        "--target",
        f"127.0.0.1:{target_port}",
        "--delay-ms",
        str(delay_ms),
        "--log",
        str(UPSTREAM_LOG),
    ]
    process = Process("latency-proxy", command)
    wait_http(f"http://127.0.0.1:{port}/simple/", process)
    return process


# -- HTTP helpers --------------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def http_get(
    url: str, headers: dict[str, str] | None = None, follow: bool = True
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    handlers: list[urllib.request.BaseHandler] = [] if follow else [_NoRedirect()]
    if TRUST:
        handlers.append(
            urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=TRUST["SSL_CERT_FILE"]))
        )
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=120) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def file_urls(page_url: str) -> dict[str, str]:
    """filename -> absolute URL, from a project page as the server presents it to pip."""
    status, headers, body = http_get(page_url, {"Accept": PIP_ACCEPT})
    if status != 200:
        raise RuntimeError(f"GET {page_url}: {status}")
    urls: dict[str, str] = {}
    if headers.get("content-type", "").startswith(JSON_TYPE):
        for entry in json.loads(body)["files"]:
            urls[entry["filename"]] = urllib.parse.urljoin(page_url, entry["url"]).split("#", 1)[0]
    else:
        for href in re.findall(r'href="([^"]+)"', body.decode()):
            absolute = urllib.parse.urljoin(page_url, href.replace("&amp;", "&")).split("#", 1)[0]
            urls[urllib.parse.unquote(absolute.rsplit("/", 1)[-1])] = absolute
    return urls


# -- installs ------------------------------------------------------------------------------------------------------


def install(tool: str, index_url: str, project: str, expected: int) -> float:
    """Seconds for one install of project (several, separated by spaces) and its dependencies into a fresh --target,
    with no client cache."""
    client = WORK / "venvs" / "client" / "bin"
    target = Path(tempfile.mkdtemp(prefix=f"target-{tool}-", dir=WORK))
    try:
        if tool == "pip":
            command = [
                str(client / "python"),
                "-m",
                "pip",
                "install",
                "--isolated",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "--index-url",
                index_url,
                "--target",
                str(target),
                *project.split(),
            ]
        else:
            command = [
                str(client / "uv"),
                "pip",
                "install",
                "--no-cache",
                "--quiet",
                "--python",
                str(client / "python"),
                "--index-url",
                index_url,
                "--target",
                str(target),
                *project.split(),
            ]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=hermetic_env(**TRUST), timeout=600)
        elapsed = time.perf_counter() - started
        installed = len(list(target.glob("*.dist-info")))
        if result.returncode != 0 or installed != expected:
            raise RuntimeError(
                f"{tool} install {project} from {index_url} failed ({result.returncode}, {installed}/{expected} "
                f"installed):\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
            )
        return elapsed
    finally:
        shutil.rmtree(target, ignore_errors=True)


def counted_install(tool: str, index_url: str, project: str, expected: int) -> tuple[float, tuple[int, int]]:
    """install(), and the (requests, connections) that reached the upstream meanwhile."""
    mark = len(upstream_lines())
    seconds = install(tool, index_url, project, expected)
    time.sleep(0.2)  # let the proxy's log catch up
    return seconds, upstream_traffic(mark)


# -- load ----------------------------------------------------------------------------------------------------------

_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass
class Load:
    rps: float
    bytes_per_s: float
    bad: int  # responses outside 2xx/3xx
    errors: int  # socket errors

    @property
    def mib_per_s(self) -> float:
        return self.bytes_per_s / 1024**2


def wrk(url: str, headers: dict[str, str], connections: int, duration: float, threads: int) -> Load:
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    result = subprocess.run([*command, url], capture_output=True, text=True, timeout=duration + 60)
    out = result.stdout
    if result.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed on {url}:\n{out}\n{result.stderr}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", out)
    bytes_per_s = float(transfer.group(1)) * _UNITS[transfer.group(2)] if transfer else 0.0
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Load(
        rps,
        bytes_per_s,
        int(bad.group(1)) if bad else 0,
        sum(int(n) for n in errors.groups()) if errors else 0,
    )


# -- other people's processes --------------------------------------------------------------------------------------
# The machine may be shared (test suites running next to the benchmark). Every measurement waits for a quiet
# machine first, and measures how much CPU processes other than the benchmark's own used while it ran: a timed run
# disturbed by more than --max-foreign cores is repeated (loads, warm installs) or flagged (cold installs).

_CLK = os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot. Busy is user + nice + system time: interrupt and
    softirq time (loopback networking under load) is nobody's process time, so it is left out of both sides."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return values[0] + values[1] + values[2], sum(values)


def _own_ticks(roots: list[int]) -> int:
    """CPU ticks of the benchmark: this process, its waited-for children, and the process trees of roots."""
    own = os.times()
    ticks = round((own.user + own.system + own.children_user + own.children_system) * _CLK)
    seen: set[int] = set()
    for root in roots:
        for pid in process_tree(root):
            if pid in seen:
                continue
            seen.add(pid)
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
    return ticks


class Watch:
    """Cores used by processes that are not the benchmark's own while the block runs (`foreign`)."""

    roots: list[int] = []  # pids whose process trees are the benchmark's own (servers, nginx, the proxy)

    def __enter__(self) -> Watch:
        self._busy, _ = _machine_ticks()
        self._own = _own_ticks(self.roots)
        self._started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        busy, _ = _machine_ticks()
        elapsed = max(time.monotonic() - self._started, 1e-3)
        foreign = (busy - self._busy) - (_own_ticks(self.roots) - self._own)
        self.foreign = max(0.0, foreign / _CLK / elapsed)


def wait_quiet(limit: float, max_foreign: float) -> float:
    """Wait (up to limit seconds) until other processes use at most max_foreign cores over one second."""
    started = time.monotonic()
    told = False
    while True:
        with Watch() as watch:
            time.sleep(1)
        waited = time.monotonic() - started
        if watch.foreign <= max_foreign or waited >= limit:
            if told:
                quiet = watch.foreign <= max_foreign
                log(f"  (machine quiet again after {waited:.0f} s)" if quiet else "  (still busy: going on)")
            return waited
        if not told:
            log(f"  other processes use {watch.foreign:.1f} cores: waiting up to {limit:.0f} s for a quiet machine")
            told = True


# -- the servers ---------------------------------------------------------------------------------------------------


@dataclass
class Server:
    """How to start one server in front of the upstream: start() returns (process, simple index URL)."""

    name: str
    venv: str
    start: Callable[[str, Path], tuple[Process, str]]
    note: str = ""


# Processes the rows share (PostgreSQL, moto's S3 server): part of the system measured, so their CPU is not counted
# as other people's work.
SERVICE_PIDS: list[int] = []
# What clients need to trust the load balancer's certificate, once it exists (pip, uv, and this script's requests).
TRUST: dict[str, str] = {}


@functools.cache
def postgres() -> Any:
    """One throwaway PostgreSQL cluster for the rows that put the catalog there (the tests' own helper: Debian's
    server in a temporary directory, on loopback, fsync off as in the tests), stopped when the benchmark ends."""
    sys.path.insert(0, str(REPO))
    from tests.support.postgres import PostgresServer

    server = PostgresServer.start()
    atexit.register(server.stop)
    SERVICE_PIDS.append(int((server.cluster.root / "data" / "postmaster.pid").read_text().split()[0]))
    return server


@functools.cache
def s3() -> Any:
    """One S3-protocol server (moto's, in memory: the figures show rennet's side, not a real store's speed) for
    the rows that keep blobs in a bucket, stopped when the benchmark ends."""
    sys.path.insert(0, str(REPO))
    from tests.support.s3 import S3Server

    server = S3Server(WORK).start()
    atexit.register(server.stop)
    SERVICE_PIDS.append(server.pid)
    return server


@functools.cache
def certificate() -> tuple[Path, Path]:
    """The load balancer's certificate and key, signed by an authority of the tests' own (their helper), which the
    clients trust from now on."""
    sys.path.insert(0, str(REPO))
    from tests.support.tls import certificate as make_certificate

    directory = WORK / "tls"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    authority, server, key = make_certificate(directory)
    TRUST.update(REQUESTS_CA_BUNDLE=str(authority), SSL_CERT_FILE=str(authority))
    return server, key


def start_rennet(
    upstream: str,
    data: Path,
    access_log: bool = True,
    workers: int | None = 1,
    on_postgres: bool = False,
    in_bucket: bool = False,
    config: Path | None = None,
    variables: dict[str, str] | None = None,
    name: str | None = None,
) -> tuple[Process, str]:
    """`rennet serve` with these flags; with config, a configuration file (RENNET_CONFIG: its settings apply where
    no flag is given, workers=None leaves its own) and variables (the database, the bucket's credentials)."""
    port = free_port()
    command = [
        str(WORK / "venvs" / "rennet" / "bin" / "rennet"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data),
        "--upstream",
        upstream,
    ]
    if workers is not None:
        command += ["--workers", str(workers)]
    if not access_log:
        command.append("--no-access-log")
    name = name or "rennet" + ("" if access_log else "-no-access-log") + ("" if workers == 1 else f"-w{workers}")
    variables = dict(variables or {})
    if config is not None:
        variables["RENNET_CONFIG"] = str(config)
    if on_postgres:
        variables["RENNET_DATABASE_URL"] = postgres().create_database()
    if in_bucket:
        variables |= s3().environment() | {"RENNET_BLOB_STORE": f"s3://{s3().new_bucket()}/blobs"}
    process = Process(
        name + ("-pg" if on_postgres else "") + ("-s3" if in_bucket else ""), command, env=hermetic_env(**variables)
    )
    wait_http(f"http://127.0.0.1:{port}/health", process)
    return process, f"http://127.0.0.1:{port}/simple/"


class Nodes:
    """Nodes of docs/deploy.md's cluster, and the load balancer in front of them when there is one: stopped
    together, their memory the row's (the balancer's not: it is counted as the benchmark's own CPU)."""

    def __init__(self, nodes: list[Process], stack: contextlib.ExitStack) -> None:
        self.nodes = nodes
        self.stack = stack  # the balancer, when started
        self.balancer_pid: int | None = None

    @property
    def pids(self) -> list[int]:
        return [node.pid for node in self.nodes]

    @property
    def helper_pids(self) -> list[int]:
        return [self.balancer_pid] if self.balancer_pid else []

    @property
    def returncode(self) -> int | None:
        return next((node.returncode for node in self.nodes if not node.alive()), None)

    def alive(self) -> bool:
        return all(node.alive() for node in self.nodes)

    def stop(self) -> None:
        self.stack.close()
        for node in self.nodes:
            node.stop()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(f"{node.name}: {node.tail(lines)}" for node in self.nodes if not node.alive())

    def served(self) -> list[int]:
        """Requests each node has logged (access lines, health checks aside)."""
        counts = []
        for node in self.nodes:
            lines: list[str] = []
            with contextlib.suppress(OSError):
                lines = node.log_path.read_text(errors="replace").splitlines()
            checks = ('"GET /ready"', '"GET /health"')
            counts.append(
                sum(1 for line in lines if " rennet.access: " in line and not any(c in line for c in checks))
            )
        return counts


def start_deployed(
    upstream: str, data: Path, nodes: int = 1, balancer: bool = False, tls: bool = False
) -> tuple[Nodes, str]:
    """Nodes configured as docs/deploy.md describes (its configuration file, read by the tests' helper: 2
    workers, access log on; catalog in PostgreSQL, blobs in a bucket of moto's S3 server; each node its own data
    directory), and, with balancer, docs/deploy.md's nginx in front of them (keep-alive to the nodes, no
    buffering), with its TLS or (tls=False) the same block on plain HTTP: nginx's cost without the encryption's."""
    sys.path.insert(0, str(REPO))
    from tests.support.cluster import balancer_config, node_config

    data.mkdir(parents=True)
    config = data / "rennet.toml"
    config.write_text(node_config(s3().new_bucket()))
    variables = {"RENNET_DATABASE_URL": postgres().create_database()} | s3().environment()
    group = Nodes([], contextlib.ExitStack())
    try:
        ports = []
        for number in range(1, nodes + 1):  # one after another: the first migrates the empty database
            name = f"{data.name}-node-{number}"
            node, url = start_rennet(
                upstream, data / f"node-{number}", workers=None, config=config, variables=variables, name=name
            )
            group.nodes.append(node)
            wait_http(urllib.parse.urljoin(url, "/ready"), node)
            ports.append(int(urllib.parse.urlsplit(url).port or 0))
        if not balancer:
            return group, url
        certificate_file, key = certificate()
        directory = data / "nginx"
        block = balancer_config(ports, certificate_file, key)
        port = _put_nginx_in_front(group, block if tls else _plain_http(block), directory)
        return group, f"{'https' if tls else 'http'}://127.0.0.1:{port}/simple/"
    except BaseException:
        group.stop()
        raise


def start_behind_nginx(upstream: str, data: Path, accel: bool = False) -> tuple[Nodes, str]:
    """One rennet (defaults: 1 worker, SQLite) behind the README's nginx block, on plain HTTP; with accel, the
    README's X-Accel-Redirect location too, so that nginx sends the files rennet holds."""
    sys.path.insert(0, str(REPO))
    from tests.support.readme import readme_block

    data.mkdir(parents=True)
    settings = 'forwarded_allow_ips = ["127.0.0.1"]\n' + ('accel_redirect = "/_rennet_blobs/"\n' if accel else "")
    node, url = start_rennet(upstream, data / "node", config=_written(data / "node", settings), name=data.name)
    group = Nodes([node], contextlib.ExitStack())
    try:
        block = readme_block("nginx", "### Behind nginx, with TLS").replace(
            "listen 443 ssl;", "listen 127.0.0.1:LISTEN_PORT ssl;"
        )
        block = _plain_http(block).replace("server 127.0.0.1:4040;", f"server {urllib.parse.urlsplit(url).netloc};")
        if accel:
            sending = readme_block("nginx", "### nginx sends the files").replace(
                "/var/lib/rennet/", f"{data / 'node'}/"
            )
            block = block.rstrip().removesuffix("}") + sending + "}\n"
        port = _put_nginx_in_front(group, block, data / "nginx")
        return group, f"http://127.0.0.1:{port}/simple/"
    except BaseException:
        group.stop()
        raise


def _plain_http(block: str) -> str:
    """A TLS server block (listening on LISTEN_PORT) on plain HTTP: nginx's cost without the encryption's."""
    block = block.replace("LISTEN_PORT ssl;", "LISTEN_PORT;")
    return "".join(line for line in block.splitlines(keepends=True) if "ssl_certificate" not in line)


def _put_nginx_in_front(group: Nodes, block: str, directory: Path) -> int:
    """nginx with this server block, stopped with the group, its CPU counted as the benchmark's; its port."""
    sys.path.insert(0, str(REPO))
    from tests.support import nginx

    port = group.stack.enter_context(nginx.running(block, directory))
    deadline = time.monotonic() + 10
    while not (directory / "nginx.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    group.balancer_pid = int((directory / "nginx.pid").read_text())
    return port


def start_devpi(upstream: str, data: Path) -> tuple[Process, str]:
    bin_dir = WORK / "venvs" / "devpi" / "bin"
    env = hermetic_env()
    # --no-root-pypi: the default root/pypi mirror would point at the public index.
    subprocess.run(
        [str(bin_dir / "devpi-init"), "--serverdir", str(data), "--no-root-pypi", "--root-passwd", "bench"],
        check=True,
        capture_output=True,
        env=env,
    )
    port = free_port()
    command = [str(bin_dir / "devpi-server"), "--serverdir", str(data), "--host", "127.0.0.1", "--port", str(port)]
    process = Process("devpi", command, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/+api", process)
    client_dir = data.parent / (data.name + "-client")
    devpi = [str(bin_dir / "devpi"), "--clientdir", str(client_dir)]
    for args in (
        ["use", base],
        ["login", "root", "--password", "bench"],
        ["index", "-c", "root/bench", "type=mirror", f"mirror_url={upstream}"],
    ):
        result = subprocess.run([*devpi, *args], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            process.stop()
            raise RuntimeError(f"devpi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return process, f"{base}/root/bench/+simple/"


def start_proxpi(upstream: str, data: Path) -> tuple[Process, str]:
    bin_dir = WORK / "venvs" / "proxpi" / "bin"
    port = free_port()
    env = hermetic_env(PROXPI_INDEX_URL=upstream, PROXPI_CACHE_DIR=str(data))
    # The command of proxpi's own container image (gunicorn's defaults: one sync worker).
    command = [
        str(bin_dir / "gunicorn"),
        "--preload",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "-",
        "--access-logformat",
        '%(h)s "%(r)s" %(s)s %(b)s %(M)dms',
        "--logger-class",
        "proxpi.server._GunicornLogger",
        "proxpi.server:app",
    ]
    process = Process("proxpi", command, env=env)
    wait_http(f"http://127.0.0.1:{port}/health", process)
    return process, f"http://127.0.0.1:{port}/index/"


# A cooldown and a deny list that judge every file of every page as it is built, and hide none of the fixture's
# (its files were uploaded in 2024): the installs stay comparable with the plain `rennet` row.
_DENIED = ", ".join(f'"denied-{n}<2"' for n in range(200))


def _written(data: Path, config: str) -> Path:
    """A configuration file beside the data directory."""
    path = data.parent / f"{data.name}.toml"
    path.write_text(config)
    return path


POLICY_CONFIG = f'[index.pypi]\nmin_age = "7d"\nmin_age_exempt = ["core-p1"]\ndeny = [{_DENIED}]\n'
ADVISORIES = 10_000


def start_with_policy(upstream: str, data: Path) -> tuple[Process, str]:
    """rennet with POLICY_CONFIG and ADVISORIES imported: one for each of the fixture's projects (naming a version
    it does not have, so every page build screens its files against one and hides none), the rest for other names
    (and every malicious-package report blocks by default)."""
    started = start_rennet(upstream, data, config=_written(data, POLICY_CONFIG), name="rennet-policy")
    projects = [f"{kind}-{tree}" for tree in trees_for(3) for kind in ("core", "app")]
    projects += [f"leaf-{tree}-{n}" for tree in trees_for(3) for n in range(LEAVES)]
    projects += [f"mid-{tree}-{n}" for tree in trees_for(3) for n in range(MIDS)]
    projects += [f"advised-{n}" for n in range(ADVISORIES - len(projects))]
    records = [
        {
            "id": f"MAL-2026-{n}" if n % 2 else f"GHSA-bench-{n}",
            "modified": "2026-12-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": name}, "versions": ["999.0"]}],
        }
        for n, name in enumerate(projects)
    ]
    path = data.parent / f"{data.name}-advisories.json"
    path.write_text(json.dumps(records))
    command = [str(WORK / "venvs" / "rennet" / "bin" / "rennet"), "advisories", "import", "--data-dir", str(data)]
    subprocess.run([*command, str(path)], check=True, capture_output=True, env=hermetic_env())
    return started


SERVERS = {
    "rennet": Server("rennet", "rennet", start_rennet, "defaults: 1 worker, access log on"),
    "rennet-no-access-log": Server(
        "rennet --no-access-log",
        "rennet",
        lambda upstream, data: start_rennet(upstream, data, access_log=False),
        "1 worker, access log off",
    ),
    "rennet-policy": Server(
        "rennet with a policy",
        "rennet",
        start_with_policy,
        "1 worker, access log on, min_age 7 days, 200 deny rules and 10,000 advisories (none hides a fixture file)",
    ),
    "rennet-2-workers": Server(
        "rennet --workers 2",
        "rennet",
        lambda upstream, data: start_rennet(upstream, data, workers=2),
        "2 workers, access log on",
    ),
    "rennet-postgres": Server(
        "rennet on PostgreSQL",
        "rennet",
        lambda upstream, data: start_rennet(upstream, data, on_postgres=True),
        "1 worker, access log on, catalog in PostgreSQL 15 (psycopg 3) on loopback",
    ),
    "rennet-postgres-s3": Server(
        "rennet on PostgreSQL and S3",
        "rennet",
        lambda upstream, data: start_rennet(upstream, data, on_postgres=True, in_bucket=True),
        "1 worker, access log on, catalog in PostgreSQL, blobs in a bucket of moto's S3 server on loopback",
    ),
    "cluster-node": Server(
        "1 node, direct",
        "rennet",
        start_deployed,
        "docs/deploy.md's node (2 workers, PostgreSQL, bucket in moto), clients connect to it directly",
    ),
    "cluster-node-nginx": Server(
        "1 node behind nginx",
        "rennet",
        lambda upstream, data: start_deployed(upstream, data, nodes=1, balancer=True),
        "the same node behind docs/deploy.md's nginx (one nginx worker, keep-alive to the node), on plain HTTP",
    ),
    "cluster-3-nodes": Server(
        "3 nodes behind nginx",
        "rennet",
        lambda upstream, data: start_deployed(upstream, data, nodes=3, balancer=True),
        "three such nodes (own data directories, one database, one bucket) behind the same nginx, plain HTTP",
    ),
    "cluster-3-nodes-tls": Server(
        "3 nodes behind nginx, TLS",
        "rennet",
        lambda upstream, data: start_deployed(upstream, data, nodes=3, balancer=True, tls=True),
        "the same, with docs/deploy.md's TLS (a certificate of the tests' own authority)",
    ),
    "rennet-nginx": Server(
        "rennet behind nginx",
        "rennet",
        start_behind_nginx,
        "1 worker behind the README's nginx block (plain HTTP): nginx copies what rennet sends",
    ),
    "rennet-nginx-accel": Server(
        "rennet behind nginx, accel_redirect",
        "rennet",
        lambda upstream, data: start_behind_nginx(upstream, data, accel=True),
        "the same with accel_redirect: rennet authorizes, nginx sends held files from blobs/",
    ),
    "devpi": Server("devpi-server", "devpi", start_devpi, "defaults: waitress, 50 threads"),
    "proxpi": Server("proxpi", "proxpi", start_proxpi, "its container's command: gunicorn, 1 sync worker"),
}
DEFAULT_SERVERS = ["rennet", "rennet-no-access-log", "rennet-2-workers", "devpi", "proxpi"]


# -- measuring -----------------------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    note: str = ""
    cold_pip: list[float] = field(default_factory=list)
    # (requests, connections) that reached the upstream during each cold install
    cold_pip_upstream: list[tuple[int, int]] = field(default_factory=list)
    cold_uv_upstream: list[tuple[int, int]] = field(default_factory=list)
    cold_uv: list[float] = field(default_factory=list)
    warm_pip: list[float] = field(default_factory=list)
    warm_uv: list[float] = field(default_factory=list)
    page_rps: float | None = None
    page_bytes: int | None = None
    not_modified_rps: float | None = None
    not_modified_note: str = ""
    small_rps: float | None = None
    large_mib_s: float | None = None
    cold_large_s: float | None = None
    rss_mb: float | None = None
    pss_mb: float | None = None
    load_samples: dict[str, list[float]] = field(default_factory=dict)  # label -> req/s of each wrk run
    interference: list[str] = field(default_factory=list)  # measurements other processes disturbed
    served_per_node: list[int] = field(default_factory=list)  # requests each node of a cluster logged
    problems: list[str] = field(default_factory=list)


def best_time(values: list[float]) -> float | None:
    """The fastest sample: other processes on a shared machine only ever slow a run down."""
    return min(values) if values else None


class Bench:
    def __init__(self, args: argparse.Namespace, fixture: Fixture) -> None:
        self.args = args
        self.fixture = fixture
        self.trees_p = [t for t in fixture.top_level if t.startswith("p")]
        self.trees_u = [] if args.no_uv else [t for t in fixture.top_level if t.startswith("u")]

    def installs(self, row: Row, index_url: str, cold: bool, warm: bool) -> None:
        expected = self.fixture.installed_per_tree
        for tool, trees, cold_list, warm_list, traffic in (
            ("pip", self.trees_p, row.cold_pip, row.warm_pip, row.cold_pip_upstream),
            ("uv", self.trees_u, row.cold_uv, row.warm_uv, row.cold_uv_upstream),
        ):
            if not trees:
                continue
            if cold:
                for tree in trees:  # a tree of its own for each cold sample: every one meets a cold cache
                    project = self.fixture.top_level[tree]
                    work = functools.partial(counted_install, tool, index_url, project, expected)
                    seconds, seen = self.timed(row, f"cold {tool}", work)
                    cold_list.append(seconds)
                    traffic.append(seen)
                log(
                    f"  cold {tool}: {' '.join(f'{s:.2f}' for s in cold_list)} s; upstream requests/connections: "
                    + " ".join(f"{r}/{c}" for r, c in traffic)
                )
            if warm:
                project = self.fixture.top_level[trees[0]]
                for _ in trees:
                    work = functools.partial(install, tool, index_url, project, expected)
                    warm_list.append(self.timed(row, f"warm {tool}", work, retry=True))
                log(f"  warm {tool}: {' '.join(f'{s:.2f}' for s in warm_list)} s")

    def timed(self, row: Row, label: str, work: Callable[[], T], retry: bool = False) -> T:
        """work() after waiting for a quiet machine; repeated (retry) or flagged when other processes disturbed it."""
        attempts = 1 + (self.args.retries if retry else 0)
        for attempt in range(attempts):
            wait_quiet(self.args.max_wait, self.args.max_foreign)
            with Watch() as watch:
                result = work()
            if watch.foreign <= self.args.max_foreign:
                return result
            note = f"{label}: other processes used {watch.foreign:.2f} cores during the run"
            log(f"  {note}" + ("; again" if attempt < attempts - 1 else ""))
            if attempt == attempts - 1:
                row.interference.append(note)
        return result

    def load(
        self, row: Row, index_url: str, pids: list[int] | None, cold_large: bool, profile_pid: int | None = None
    ) -> None:
        args = self.args
        fx = self.fixture
        page_url = urllib.parse.urljoin(index_url, f"{fx.big_page_project}/")
        status, headers, body = http_get(page_url, {"Accept": PIP_ACCEPT})
        if status != 200:
            raise RuntimeError(f"GET {page_url}: {status} {body[:200]!r}")
        row.page_bytes = len(body)
        small_page = urllib.parse.urljoin(index_url, f"{fx.small_file.split('-')[0].replace('_', '-')}/")
        small_url = file_urls(small_page)[fx.small_file]
        large_url = file_urls(urllib.parse.urljoin(index_url, "bigwheel/"))[fx.large_file]
        if cold_large:
            started = time.perf_counter()
            status, _, data = http_get(large_url)
            row.cold_large_s = time.perf_counter() - started
            if status != 200 or len(data) != fx.large_size:
                row.problems.append(f"cold large file: status {status}, {len(data)} bytes")
            log(f"  cold large file: {row.cold_large_s:.2f} s")
        self._await_cached(row, large_url, fx.large_size)
        self._check_file(row, small_url, fx.root / "files" / fx.small_file)

        def run(label: str, url: str, headers: dict[str, str], connections: int) -> Load:
            """The best of args.load_runs wrk runs (the load generator shares the machine's two cores)."""
            results = []
            for _ in range(args.load_runs):
                work = functools.partial(wrk, url, headers, connections, args.duration, args.threads)
                results.append(self.timed(row, label, work, retry=True))
            bad, errors = sum(r.bad for r in results), sum(r.errors for r in results)
            if bad or errors:
                row.problems.append(f"{label}: {bad} non-2xx/3xx responses, {errors} socket errors")
            row.load_samples[label] = [round(r.rps, 1) for r in results]
            if profile_pid:
                self._profile(row, label, url, headers, connections, profile_pid)
            best = max(results, key=lambda r: r.rps)  # interference only ever lowers a rate
            return Load(best.rps, best.bytes_per_s, bad, errors)

        page = run("page", page_url, {"Accept": PIP_ACCEPT}, args.connections)
        row.page_rps = page.rps
        log(f"  page: {page.rps:,.0f} req/s {row.load_samples['page']} ({row.page_bytes:,} bytes)")
        etag = headers.get("etag")
        if not etag:
            row.not_modified_note = "no ETag on pages"
        else:
            conditional = {"Accept": PIP_ACCEPT, "If-None-Match": etag}
            status, _, _ = http_get(page_url, conditional)
            if status != 304:
                row.not_modified_note = f"If-None-Match answered {status}"
            else:
                row.not_modified_rps = run("304", page_url, conditional, args.connections).rps
                log(f"  304: {row.not_modified_rps:,.0f} req/s {row.load_samples['304']}")
        row.small_rps = run("small file", small_url, {}, args.connections).rps
        log(f"  small file: {row.small_rps:,.0f} req/s {row.load_samples['small file']}")
        row.large_mib_s = run("large file", large_url, {}, args.large_connections).mib_per_s
        log(f"  large file: {row.large_mib_s:,.0f} MiB/s (req/s {row.load_samples['large file']})")
        if pids:
            row.rss_mb, row.pss_mb = memory_mb(pids)
            log(f"  memory: RSS {row.rss_mb:.0f} MiB, PSS {row.pss_mb:.0f} MiB")

    def _await_cached(self, row: Row, url: str, size: int) -> None:
        """Wait until the server answers the file itself (proxpi redirects to the upstream while downloading)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, _, data = http_get(url, follow=False)
            if status == 200 and len(data) == size:
                return
            time.sleep(0.5)
        row.problems.append(f"{url} not served from the cache after 60 s")

    def _check_file(self, row: Row, url: str, original: Path) -> None:
        status, _, data = http_get(url, follow=False)
        if status != 200 or hashlib.sha256(data).digest() != hashlib.sha256(original.read_bytes()).digest():
            row.problems.append(f"small file {url}: status {status}, content differs from the upstream's")

    def _profile(self, row: Row, label: str, url: str, headers: dict[str, str], connections: int, pid: int) -> None:
        with py_spy(pid, f"{row.name} {label}"):
            wrk(url, headers, connections, self.args.duration, self.args.threads)


@contextlib.contextmanager
def py_spy(pid: int, label: str) -> Iterator[None]:
    """Record a py-spy profile (collapsed stacks, one line per stack) of a process tree while the block runs."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    out = WORK / "profiles" / f"{slug}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(WORK / "venvs" / "client" / "bin" / "py-spy"), "record", "--pid", str(pid), "--subprocesses"]
    command += ["--nonblocking", "--format", "raw", "--rate", "250", "--output", str(out)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
        log(f"  profile under {label}: {out}")


# -- report --------------------------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str, note: str = "") -> str:
    if value is None:
        return note or "n/a"
    return format(value, spec)


COLUMNS = [
    ("server", None),
    ("cold pip s", None),
    ("cold uv s", None),
    ("warm pip s", None),
    ("warm uv s", None),
    ("page req/s", None),
    ("304 req/s", None),
    ("small file req/s", None),
    ("large file MiB/s", None),
    ("cold large file s", None),
    ("RSS MiB (PSS)", None),
]


def table_rows(rows: list[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        out.append(
            [
                row.name,
                fmt(best_time(row.cold_pip), ".2f"),
                fmt(best_time(row.cold_uv), ".2f"),
                fmt(best_time(row.warm_pip), ".2f"),
                fmt(best_time(row.warm_uv), ".2f"),
                fmt(row.page_rps, ",.0f"),
                fmt(row.not_modified_rps, ",.0f", row.not_modified_note and f"n/a ({row.not_modified_note})"),
                fmt(row.small_rps, ",.0f"),
                fmt(row.large_mib_s, ",.0f"),
                fmt(row.cold_large_s, ".2f"),
                "n/a" if row.rss_mb is None else f"{row.rss_mb:.0f} ({row.pss_mb:.0f})",
            ]
        )
    return out


def markdown_table(rows: list[Row]) -> str:
    header = [name for name, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows(rows)]
    return "\n".join(lines)


def text_table(rows: list[Row]) -> str:
    header = [name for name, _ in COLUMNS]
    cells = [header, *table_rows(rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, r in enumerate(cells):
        lines.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def traffic_table(rows: list[Row]) -> str:
    """Markdown: what each cold install asked of the upstream (median requests and connections per install)."""

    def cell(samples: list[tuple[int, int]]) -> str:
        if not samples:
            return "n/a"
        requests = statistics.median(r for r, _ in samples)
        connections = statistics.median(c for _, c in samples)
        return f"{requests:g} / {connections:g}"

    lines = [
        "| server | pip: upstream requests / connections | uv: upstream requests / connections |",
        "|---|---:|---:|",
    ]
    for row in rows:
        if row.cold_pip_upstream or row.cold_uv_upstream:
            lines.append(f"| {row.name} | {cell(row.cold_pip_upstream)} | {cell(row.cold_uv_upstream)} |")
    return "\n".join(lines)


def targets(rows: dict[str, Row], subject: str) -> list[tuple[str, bool | None, str]]:
    """(target, met?, evidence) for the row named subject."""
    me = rows.get(subject)
    nginx, direct, proxpi = rows.get("nginx"), rows.get("direct"), rows.get("proxpi")
    out: list[tuple[str, bool | None, str]] = []

    def ratio(name: str, mine: float | None, theirs: float | None, bound: float, higher_is_better: bool) -> None:
        if mine is None or theirs is None or theirs == 0:
            out.append((name, None, "not measured"))
            return
        value = mine / theirs
        met = value >= bound if higher_is_better else value <= bound
        out.append((name, met, f"{value:.3f}x ({mine:,.2f} vs {theirs:,.2f})"))

    if me is None:
        return out
    ratio("warm page req/s >= 5x proxpi", me.page_rps, proxpi and proxpi.page_rps, 5, True)
    ratio("warm page req/s >= 0.5x nginx", me.page_rps, nginx and nginx.page_rps, 0.5, True)
    ratio("large file MiB/s >= 0.7x nginx", me.large_mib_s, nginx and nginx.large_mib_s, 0.7, True)
    mine_pip, mine_uv = best_time(me.cold_pip), best_time(me.cold_uv)
    ratio("cold pip install <= 1.1x direct", mine_pip, direct and best_time(direct.cold_pip), 1.1, False)
    ratio("cold uv install <= 1.3x direct", mine_uv, direct and best_time(direct.cold_uv), 1.3, False)
    ratio("RSS <= 100 MiB", me.rss_mb, 100.0, 1.0, False)
    ratio("RSS <= proxpi's", me.rss_mb, proxpi and proxpi.rss_mb, 1.0, False)
    return out


# -- main ----------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark rennet against nginx, devpi-server and proxpi.")
    parser.add_argument("--only", nargs="*", choices=sorted(SERVERS), help=f"servers (default {DEFAULT_SERVERS})")
    parser.add_argument("--repeats", type=int, default=3, help="cold/warm install samples per installer (3)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="latency added in front of the upstream (20)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run (3)")
    parser.add_argument("--load-runs", type=int, default=3, help="wrk runs per measurement; the best counts (3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections for pages and small files")
    parser.add_argument("--large-connections", type=int, default=8, help="wrk connections for the large file")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1: the other core is the server's)")
    parser.add_argument("--large-mb", type=int, default=64, help="size of the large wheel in MiB (64)")
    parser.add_argument("--no-uv", action="store_true", help="skip the uv installs")
    parser.add_argument(
        "--max-foreign", type=float, default=0.2, help="cores other processes may use during a timed run (0.2)"
    )
    parser.add_argument("--max-wait", type=float, default=10, help="seconds to wait for a quiet machine (10)")
    parser.add_argument("--retries", type=int, default=1, help="repeats of a disturbed load run or warm install (1)")
    parser.add_argument(
        "--nice",
        type=int,
        default=-20,
        help="niceness of the benchmark and everything it starts, when run as root (-20: other work on a shared "
        "machine disturbs less; 0 to leave it)",
    )
    parser.add_argument("--profile", action="store_true", help="record py-spy profiles of rennet (untimed runs)")
    parser.add_argument("--no-reinstall", action="store_true", help="keep the rennet venv as it is")
    args = parser.parse_args()
    started = time.monotonic()
    if args.nice and os.geteuid() == 0:
        os.nice(args.nice)
    WORK.mkdir(exist_ok=True)
    for stale in WORK.glob("target-*"):
        shutil.rmtree(stale, ignore_errors=True)

    ensure_tools()
    servers = args.only if args.only is not None else DEFAULT_SERVERS
    venvs = ["client", *sorted({SERVERS[name].venv for name in servers})]
    source = rennet_source()  # what the reinstall below picks up
    for name in venvs:
        ensure_venv(name, reinstall_rennet=not args.no_reinstall)
    versions = {name: venv_versions(name) for name in venvs}
    if "rennet" in versions:
        versions["rennet"]["source"] = source
    facts = machine_facts()
    log(f"machine: {facts}")
    log(f"versions: {versions}")

    log("building the fixture")
    fixture = build_fixture(WORK / "fixture", repeats=args.repeats, large_mb=args.large_mb)
    log(f"fixture: {fixture.projects} projects, {fixture.files} files, large wheel {fixture.large_size:,} bytes")

    nginx_port, proxy_port = free_port(), free_port()
    data_root = WORK / "data"
    shutil.rmtree(data_root, ignore_errors=True)
    data_root.mkdir()
    nginx = start_nginx(fixture.root, nginx_port)
    proxy = start_latency_proxy(nginx_port, proxy_port, args.delay_ms)
    nginx_url = f"http://127.0.0.1:{nginx_port}/simple/"
    upstream = f"http://127.0.0.1:{proxy_port}/simple/"
    bench = Bench(args, fixture)
    Watch.roots = [nginx.pid, proxy.pid]
    rows: dict[str, Row] = {}
    try:
        log("warming up the clients (first runs compile their bytecode): untimed installs from nginx")
        install("pip", nginx_url, fixture.top_level[bench.trees_p[0]], fixture.installed_per_tree)
        if bench.trees_u:
            install("uv", nginx_url, fixture.top_level[bench.trees_u[0]], fixture.installed_per_tree)
        log(f"nginx (the upstream itself, no added latency): {nginx_url}")
        row = rows["nginx"] = Row("nginx", "static files, 1 worker, access log off, no added latency")
        bench.installs(row, nginx_url, cold=False, warm=True)
        bench.load(row, nginx_url, nginx.pids, cold_large=False)

        log(f"direct: installs from the upstream through the latency proxy: {upstream}")
        row = rows["direct"] = Row("direct", f"nginx behind the +{args.delay_ms:g} ms latency proxy")
        expected = fixture.installed_per_tree
        for _ in range(args.repeats):
            for tool, trees, samples, traffic in (
                ("pip", bench.trees_p, row.cold_pip, row.cold_pip_upstream),
                ("uv", bench.trees_u, row.cold_uv, row.cold_uv_upstream),
            ):
                if trees:
                    work = functools.partial(counted_install, tool, upstream, fixture.top_level[trees[0]], expected)
                    seconds, seen = bench.timed(row, f"cold {tool}", work, retry=True)  # stateless: can retry
                    samples.append(seconds)
                    traffic.append(seen)
        log(f"  cold pip: {' '.join(f'{s:.2f}' for s in row.cold_pip)} s; {row.cold_pip_upstream}")
        log(f"  cold uv: {' '.join(f'{s:.2f}' for s in row.cold_uv)} s; {row.cold_uv_upstream}")

        for key in servers:
            server = SERVERS[key]
            log(f"{server.name} ({server.note})")
            row = rows[key] = Row(server.name, server.note)
            data = data_root / key
            try:
                process, index_url = server.start(upstream, data)
            except Exception as error:
                row.problems.append(f"could not start: {error}")
                log(f"  could not start: {error}")
                continue
            Watch.roots = [nginx.pid, proxy.pid, *SERVICE_PIDS, *process.pids, *process.helper_pids]
            try:
                log(f"  index: {index_url}")
                profile_pid = process.pids[0] if (args.profile and key.startswith("rennet")) else None
                if profile_pid:
                    row.note += " (profiled: install times include py-spy's cost)"
                    with py_spy(profile_pid, f"{row.name} cold installs"):
                        bench.installs(row, index_url, cold=True, warm=False)
                    bench.installs(row, index_url, cold=False, warm=True)
                else:
                    bench.installs(row, index_url, cold=True, warm=True)
                bench.load(row, index_url, process.pids, cold_large=True, profile_pid=profile_pid)
                if isinstance(process, Nodes) and len(process.nodes) > 1:
                    time.sleep(0.2)  # access lines are written in batches
                    row.served_per_node = process.served()
                    log(f"  requests served per node: {row.served_per_node}")
            except Exception as error:
                row.problems.append(str(error))
                log(f"  FAILED: {error}")
            finally:
                if not process.alive():
                    row.problems.append(f"exited with {process.returncode}: {process.tail(5)}")
                process.stop()
    finally:
        proxy.stop()
        nginx.stop()

    table = text_table(list(rows.values()))
    print()
    print(table)
    print()
    traffic = traffic_table(list(rows.values()))
    print("Upstream traffic per cold install (median):")
    print(traffic)
    print()
    for name, row in rows.items():
        for problem in row.problems:
            print(f"problem: {name}: {problem}")
        for note in row.interference:
            print(f"disturbed: {name}: {note}")
    results = {
        "machine": facts,
        "versions": versions,
        "settings": dict(vars(args)),
        "fixture": {
            "projects": fixture.projects,
            "files": fixture.files,
            "installed_per_install": fixture.installed_per_tree,
            "big_page_project": fixture.big_page_project,
            "small_file": fixture.small_file,
            "large_file_bytes": fixture.large_size,
        },
        "rows": {name: vars(row) for name, row in rows.items()},
        "targets": {},
    }
    md = [markdown_table(list(rows.values())), "", "Upstream traffic per cold install (median):", "", traffic, ""]
    for subject in [key for key in rows if key.startswith("rennet")]:
        checks = targets(rows, subject)
        results["targets"][subject] = [{"target": t, "met": m, "evidence": e} for t, m, e in checks]
        print(f"targets for {rows[subject].name}:")
        md.append(f"Targets for `{rows[subject].name}`:\n")
        for target, met, evidence in checks:
            verdict = {True: "met", False: "MISSED", None: "n/a"}[met]
            print(f"  {verdict:7} {target}: {evidence}")
            md.append(f"- {verdict}: {target}: {evidence}")
        md.append("")
    (WORK / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (WORK / "results.md").write_text("\n".join(md) + "\n")
    log(f"done in {time.monotonic() - started:.0f} s; results in {WORK / 'results.json'} and {WORK / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
