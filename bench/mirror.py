#!/usr/bin/env python3
"""Mirroring throughput: `rennet mirror` against `pip download` of the same files, from a far-away upstream.

    python bench/mirror.py                       # every scenario, 3 samples each
    python bench/mirror.py --repeats 5 --concurrency 8 32
    .venv/bin/python bench/mirror.py --full 5000 # a full mirror of a generated upstream (bench/full_mirror.py)

The upstream is the benchmark fixture (bench/fixture.py, the tree bench/run.py uses) served by nginx, behind
bench/latency_proxy.py (+20 ms per connection and per request). Scenarios:

- `lock-small`: a pylock.toml of the newest wheel of every project of the fixture's dependency trees (252 small
  wheels); pip gets the same files as a hash-pinned requirements file with --no-deps.
- `lock-large`: a pylock.toml of the fixture's one large wheel (64 MiB by default).
- `resolve`: `rennet mirror app-u1` against `pip download app-u1`: both resolve the 42-project tree from PEP 658
  metadata and download one wheel per project.

Every sample starts cold: a new rennet data directory, a new pip download directory, and pip with --no-cache-dir.
Times are wall-clock seconds of the whole command (process start included) and the median of the samples counts.
rennet also fetches each wheel's .metadata (so that installers find it offline); pip does not: the upstream
request counts show the difference.

Hermetic: pip runs with --isolated, PIP_CONFIG_FILE=/dev/null and no PIP_* variables (no find-links, no extra
index), rennet with no RENNET_* variables and the latency proxy as its only upstream. Nothing leaves the machine.
rennet comes from this checkout's .venv; pip from bench/run.py's client venv when it exists, else the same .venv.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture import Fixture, build_fixture, canonical
from run import NGINX_CONF, Process, free_port, hermetic_env, nginx_binary, wait_http

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
RUNS = WORK / "mirror"
UPSTREAM_LOG = WORK / "logs" / "mirror-upstream-requests.log"
MB = 1_000_000


@dataclass(frozen=True)
class Wheel:
    project: str
    version: str
    filename: str
    sha256: str
    size: int


@dataclass
class Scenario:
    name: str
    note: str
    wheels: list[Wheel]  # what both tools must end up with
    rennet_args: list[str]
    pip_args: list[str]


@dataclass
class Sample:
    seconds: float
    files: int
    size: int
    requests: int
    connections: int


@dataclass
class Row:
    scenario: str
    tool: str
    samples: list[Sample] = field(default_factory=list)

    def median(self) -> Sample:
        ordered = sorted(self.samples, key=lambda s: s.seconds)
        return ordered[len(ordered) // 2]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the upstream --------------------------------------------------------------------------------------------------


def start_upstream(fixture: Fixture, delay_ms: float) -> tuple[list[Process], str]:
    """nginx serving the fixture, behind the latency proxy; returns the processes and the simple index URL."""
    nginx_port, proxy_port = free_port(), free_port()
    tmp = RUNS / "nginx"
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=nginx_port, root=fixture.root.resolve()))
    nginx_command = [nginx_binary(), "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(conf)]
    nginx = Process("mirror-nginx", [*nginx_command, "-g", "daemon off;"])
    wait_http(f"http://127.0.0.1:{nginx_port}/simple/", nginx)
    UPSTREAM_LOG.parent.mkdir(parents=True, exist_ok=True)
    UPSTREAM_LOG.write_text("")
    proxy_command = [
        sys.executable, str(BENCH / "latency_proxy.py"), "--listen", f"127.0.0.1:{proxy_port}",
        "--target", f"127.0.0.1:{nginx_port}", "--delay-ms", str(delay_ms), "--log", str(UPSTREAM_LOG),
    ]  # fmt: skip
    proxy = Process("mirror-latency-proxy", proxy_command)
    wait_http(f"http://127.0.0.1:{proxy_port}/simple/", proxy)
    return [proxy, nginx], f"http://127.0.0.1:{proxy_port}/simple/"


def traffic_since(mark: int) -> tuple[int, int, int]:
    """(line count now, requests, connections) the latency proxy logged after line `mark`."""
    time.sleep(0.2)  # the proxy writes its log lines as the requests pass
    lines = UPSTREAM_LOG.read_text().splitlines()
    new = lines[mark:]
    connections = sum(1 for line in new if line.endswith(" CONNECT"))
    return len(lines), len(new) - connections, connections


# -- the scenarios -------------------------------------------------------------------------------------------------


def newest_wheel(fixture: Fixture, project: str) -> Wheel:
    page = json.loads((fixture.root / "simple" / canonical(project) / "index.json").read_text())
    wheels = [f for f in page["files"] if f["filename"].endswith(".whl")]
    # The fixture's versions are 1.X.Y with single digits, in page order: the last wheel is the newest.
    last = wheels[-1]
    version = last["filename"].split("-")[1]
    return Wheel(canonical(project), version, last["filename"], last["hashes"]["sha256"], last["size"])


def tree_projects(fixture: Fixture) -> list[str]:
    names = json.loads((fixture.root / "simple" / "index.json").read_text())["projects"]
    return sorted(n["name"] for n in names if n["name"] != "bigwheel")


def write_lock(path: Path, wheels: list[Wheel], upstream: str) -> None:
    files = upstream.removesuffix("simple/") + "files/"
    lines = ['lock-version = "1.0"', 'created-by = "rennet bench/mirror.py"', ""]
    for wheel in wheels:
        lines += [
            "[[packages]]",
            f'name = "{wheel.project}"',
            f'version = "{wheel.version}"',
            f'index = "{upstream}"',
        ]
        artifact = f'url = "{files}{wheel.filename}", size = {wheel.size}, hashes = {{ sha256 = "{wheel.sha256}" }}'
        lines += [f"wheels = [{{ {artifact} }}]", ""]
    path.write_text("\n".join(lines))


def write_requirements(path: Path, wheels: list[Wheel]) -> None:
    path.write_text("".join(f"{w.project}=={w.version} --hash=sha256:{w.sha256}\n" for w in wheels))


def resolved_wheels(fixture: Fixture, top: str) -> list[Wheel]:
    """The tree of `top`: every requirement is >=1.0, so each project resolves to its newest release."""
    tree = top.removeprefix("app-")
    return [newest_wheel(fixture, p) for p in tree_projects(fixture) if p.endswith(f"-{tree}") or f"-{tree}-" in p]


def scenarios(fixture: Fixture, upstream: str, only: list[str] | None) -> list[Scenario]:
    RUNS.mkdir(parents=True, exist_ok=True)
    small = [newest_wheel(fixture, p) for p in tree_projects(fixture)]
    large = [newest_wheel(fixture, "bigwheel")]
    found = []
    for name, note, wheels in (
        ("lock-small", f"pylock.toml of {len(small)} small wheels", small),
        ("lock-large", f"pylock.toml of one {large[0].size / MB:.0f} MB wheel", large),
    ):
        lock, requirements = RUNS / f"{name}.pylock.toml", RUNS / f"{name}.txt"
        write_lock(lock, wheels, upstream)
        write_requirements(requirements, wheels)
        found.append(Scenario(name, note, wheels, ["--pylock", str(lock)], ["--no-deps", "-r", str(requirements)]))
    top = fixture.top_level["u1"]
    tree = resolved_wheels(fixture, top)
    found.append(Scenario("resolve", f"{top}: resolve and fetch {len(tree)} wheels", tree, [top], [top]))
    return [s for s in found if only is None or s.name in only]


# -- the tools -----------------------------------------------------------------------------------------------------


def rennet_command(args: argparse.Namespace) -> list[str]:
    # This checkout's dev venv (an editable install): bench/run.py's venv holds whatever it last installed.
    return [args.rennet or str(REPO / ".venv" / "bin" / "rennet")]


def pip_python() -> str:
    client = WORK / "venvs" / "client" / "bin" / "python"
    return str(client if client.exists() else REPO / ".venv" / "bin" / "python")


def run_rennet(args: argparse.Namespace, scenario: Scenario, upstream: str, concurrency: int) -> tuple[float, Path]:
    data = RUNS / "data"
    shutil.rmtree(data, ignore_errors=True)
    (data / "blobs").mkdir(parents=True)  # a new data directory, as `rennet serve` would leave it
    command = [
        *rennet_command(args), "mirror", *scenario.rennet_args, "--data-dir", str(data), "--upstream", upstream,
        "--concurrency", str(concurrency),
    ]  # fmt: skip
    seconds = timed(command)
    return seconds, data


def run_pip(scenario: Scenario, upstream: str) -> tuple[float, Path]:
    dest = RUNS / "pip-download"
    shutil.rmtree(dest, ignore_errors=True)
    command = [
        pip_python(), "-m", "pip", "download", "--isolated", "--no-cache-dir", "--disable-pip-version-check",
        "--no-input", "--quiet", "--index-url", upstream, "-d", str(dest), *scenario.pip_args,
    ]  # fmt: skip
    return timed(command), dest


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=hermetic_env(), timeout=1800)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed


def check_rennet(data: Path, scenario: Scenario) -> None:
    for wheel in scenario.wheels:
        sha = wheel.sha256
        if not (data / "blobs" / sha[:2] / sha[2:4] / sha).is_file():
            raise RuntimeError(f"rennet mirror did not fetch {wheel.filename}")


def check_pip(dest: Path, scenario: Scenario) -> None:
    found = {p.name for p in dest.iterdir()}
    missing = {w.filename for w in scenario.wheels} - found
    if missing:
        raise RuntimeError(f"pip download did not fetch {sorted(missing)[:5]}")


# -- main ----------------------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, scenario: Scenario, upstream: str, tool: str, row: Row) -> None:
    size = sum(w.size for w in scenario.wheels)
    for _ in range(args.repeats):
        mark = len(UPSTREAM_LOG.read_text().splitlines())
        if tool == "pip download":
            seconds, dest = run_pip(scenario, upstream)
            check_pip(dest, scenario)
        else:
            seconds, dest = run_rennet(args, scenario, upstream, int(tool.rsplit(" ", 1)[1]))
            check_rennet(dest, scenario)
        _, requests, connections = traffic_since(mark)
        row.samples.append(Sample(seconds, len(scenario.wheels), size, requests, connections))
        log(f"  {scenario.name} {tool}: {seconds:.2f} s, {requests} upstream requests on {connections} connections")


def table(rows: list[Row], delay_ms: float) -> str:
    lines = [
        "| scenario | tool | files | MB | seconds (median) | files/s | MB/s | upstream requests / connections |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        m = row.median()
        lines.append(
            f"| {row.scenario} | {row.tool} | {m.files} | {m.size / MB:.1f} | {m.seconds:.2f} "
            f"| {m.files / m.seconds:.1f} | {m.size / MB / m.seconds:.1f} | {m.requests} / {m.connections} |"
        )
    samples = ", ".join(f"{r.scenario} {r.tool}: {' '.join(f'{s.seconds:.2f}' for s in r.samples)}" for r in rows)
    return "\n".join(lines) + f"\n\nUpstream latency +{delay_ms:g} ms. Samples (s): {samples}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="rennet mirror against pip download, from a far-away upstream.")
    parser.add_argument("--repeats", type=int, default=3, help="cold samples per tool and scenario (3)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="latency added in front of the upstream (20)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8], help="rennet mirror --concurrency (8)")
    parser.add_argument("--only", nargs="*", choices=["lock-small", "lock-large", "resolve"], help="scenarios")
    parser.add_argument("--rennet", help="the rennet executable (default: this checkout's .venv/bin/rennet)")
    parser.add_argument("--large-mb", type=int, default=64, help="size of the fixture's large wheel (64)")
    parser.add_argument(
        "--full",
        type=int,
        metavar="N",
        help="instead: a full mirror of a generated upstream of N projects, its "
        "syncs (nothing changed, 1 %% changed) and nginx's raw rate (bench/full_mirror.py)",
    )
    parser.add_argument("--releases", type=int, default=3, help="--full: releases per project (3)")
    parser.add_argument("--wheel-kb", type=int, default=20, help="--full: size of each wheel in kB (20)")
    args = parser.parse_args()
    if args.full:
        from full_mirror import run_full

        result = run_full(args.full, args.releases, args.wheel_kb * 1000, args.concurrency[0])
        (WORK / "full-mirror-results.md").write_text(result)
        print(result)
        return 0
    log("building the fixture (reused when bench/run.py built it already)")
    fixture = build_fixture(WORK / "fixture", large_mb=args.large_mb)
    processes, upstream = start_upstream(fixture, args.delay_ms)
    rows: list[Row] = []
    try:
        for scenario in scenarios(fixture, upstream, args.only):
            log(f"{scenario.name}: {scenario.note}")
            for tool in [*(f"rennet mirror --concurrency {n}" for n in args.concurrency), "pip download"]:
                rows.append(Row(scenario.name, tool))
                measure(args, scenario, upstream, tool, rows[-1])
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(RUNS / "data", ignore_errors=True)
        shutil.rmtree(RUNS / "pip-download", ignore_errors=True)
    result = table(rows, args.delay_ms)
    (WORK / "mirror-results.md").write_text(result)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
