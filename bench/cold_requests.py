"""What a cold request costs through rennet, beside the same request straight to the upstream.

    python3 bench/cold_requests.py                                  # this checkout's .venv/bin/rennet
    python3 bench/cold_requests.py --rennet before=/tmp/old/bin/rennet --rennet after=.venv/bin/rennet

The upstream is bench/run.py's: nginx serving the fixture behind the 20 ms latency proxy. For each build, a rennet
with an empty data directory is started, and one tree of 42 projects is fetched as pip fetches it: the project page
(JSON), the newest wheel's `.metadata`, the wheel, one project after the other on one keep-alive connection. A
second tree is then fetched by 8 threads at once, as uv does. The same two fetches straight from the upstream are
the baseline. Printed: the median milliseconds per kind of request, and the parallel fetch's wall time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    JSON_TYPE,
    LEAVES,
    MIDS,
    PIP_ACCEPT,
    REPO,
    WORK,
    Process,
    build_fixture,
    free_port,
    hermetic_env,
    start_latency_proxy,
    start_nginx,
    wait_http,
)

KINDS = ("page", "metadata", "wheel")


def tree_projects(tree: str) -> list[str]:
    return (
        [f"app-{tree}"]
        + [f"mid-{tree}-{n}" for n in range(MIDS)]
        + [f"leaf-{tree}-{n}" for n in range(LEAVES)]
        + [f"core-{tree}"]
    )


class Client:
    """One keep-alive connection, as pip keeps one per host."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.base = base
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)

    def get(self, url: str, accept: str = "*/*") -> tuple[float, bytes]:
        path = urllib.parse.urlsplit(url).path
        started = time.perf_counter()
        self.connection.request("GET", path, headers={"Accept": accept})
        response = self.connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status}")
        return elapsed, body

    def project(self, name: str) -> dict[str, float]:
        page_url = f"{self.base}{name}/"
        page_ms, body = self.get(page_url, PIP_ACCEPT)
        if not body.lstrip().startswith(b"{"):
            raise RuntimeError(f"{page_url} did not answer {JSON_TYPE}")
        wheels = [entry for entry in json.loads(body)["files"] if entry["filename"].endswith(".whl")]
        wheel_url = urllib.parse.urljoin(page_url, wheels[-1]["url"]).split("#", 1)[0]
        metadata_ms, _ = self.get(wheel_url + ".metadata")
        wheel_ms, _ = self.get(wheel_url)
        return {"page": page_ms, "metadata": metadata_ms, "wheel": wheel_ms}


def sequential(base: str, tree: str) -> dict[str, float]:
    client = Client(base)
    samples = [client.project(name) for name in tree_projects(tree)]
    return {kind: statistics.median(sample[kind] for sample in samples) for kind in KINDS}


def parallel(base: str, tree: str, threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda name: Client(base).project(name), tree_projects(tree)))
    return time.perf_counter() - started


def start(rennet: str, upstream: str, data: Path) -> tuple[Process, str]:
    port = free_port()
    command = [rennet, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)]
    process = Process("cold-requests-rennet", [*command, "--upstream", upstream, "--workers", "1"], hermetic_env())
    wait_http(f"http://127.0.0.1:{port}/health", process)
    return process, f"http://127.0.0.1:{port}/simple/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rennet", action="append", help="LABEL=PATH of a rennet executable (repeatable)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="latency in front of the upstream (20)")
    parser.add_argument("--threads", type=int, default=8, help="threads of the parallel fetch (8)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; builds take turns within a round (2)")
    args = parser.parse_args()
    builds = dict(item.split("=", 1) for item in args.rennet or [f"this={REPO / '.venv' / 'bin' / 'rennet'}"])
    fixture = build_fixture(WORK / "fixture")
    nginx_port, proxy_port = free_port(), free_port()
    nginx = start_nginx(fixture.root, nginx_port)
    proxy = start_latency_proxy(nginx_port, proxy_port, args.delay_ms)
    upstream = f"http://127.0.0.1:{proxy_port}/simple/"
    try:
        for round_ in range(1, args.rounds + 1):
            results = {"direct": (sequential(upstream, "p1"), parallel(upstream, "u1", args.threads))}
            for label, path in builds.items():
                with tempfile.TemporaryDirectory(dir=WORK) as data:
                    process, base = start(path, upstream, Path(data))
                    try:
                        results[label] = (sequential(base, "p1"), parallel(base, "u1", args.threads))
                    finally:
                        process.stop()
            print(f"round {round_}: median ms per request (pip-like), wall s of {args.threads} threads (uv-like)")
            for label, (medians, wall) in results.items():
                cells = "  ".join(f"{kind} {medians[kind]:6.1f}" for kind in KINDS)
                print(f"  {label:12s} {cells}  parallel {wall:5.2f} s")
    finally:
        proxy.stop()
        nginx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
