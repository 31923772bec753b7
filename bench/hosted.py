#!/usr/bin/env python3
"""Private hosting: uploads per second, and the warm page of a hosted project with thousands of files.

    python bench/hosted.py                        # 300 uploads; projects of 500, 2,000 and 5,000 files
    python bench/hosted.py --uploads 1000 --sizes 5000

Uploads go through the legacy API (`POST /local/legacy/`, multipart, HTTP Basic with an upload token) from one
client with keep-alive, and from 8 clients at once. The big projects are added with `rennet import` (the same
checks as uploads), then their pages are read: the first request after a restart (rendered from the catalog),
then warm requests one after another (median and 95th percentile latency, keep-alive client) and `wrk` for the
rate. A warm page is served from memory: its cost grows with its size, never with a database scan.

rennet comes from this checkout's .venv, with its default settings (one worker, access log on); the default
group's upstream is a closed port, so nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import WORK, Process, free_port, hermetic_env, log, wait_http, wrk

from tests.support.dists import Dist, make_sdist, make_wheel

REPO = Path(__file__).resolve().parents[1]
RENNET = REPO / ".venv" / "bin" / "rennet"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


def multipart(dist: Dist) -> tuple[bytes, str]:
    boundary = "rennet-bench-boundary"
    version = dist.filename.split("-")[1].removesuffix(".tar.gz")
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": dist.project,
        "version": version,
        "filetype": "bdist_wheel" if dist.filename.endswith(".whl") else "sdist",
        "metadata_version": "2.1",
        "sha256_digest": dist.sha256,
    }
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{dist.filename}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + dist.data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload_all(port: int, token: str, dists: list[Dist], clients: int) -> float:
    """Upload every dist with `clients` keep-alive connections; returns the seconds it took."""
    auth = "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()
    bodies = [multipart(dist) for dist in dists]
    failures: list[str] = []

    def work(share: list[tuple[bytes, str]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for body, content_type in share:
            connection.request("POST", "/local/legacy/", body, {"Content-Type": content_type, "Authorization": auth})
            response = connection.getresponse()
            text = response.read()
            if response.status != 200:
                failures.append(f"{response.status} {text[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=work, args=(bodies[n::clients],)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} uploads failed, e.g. {failures[0]}")
    return elapsed


def page_latencies(port: int, path: str, accept: str, count: int) -> tuple[float, list[float], int]:
    """(first request ms, warm request ms, body bytes) with one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    timings = []
    size = 0
    for _ in range(count + 1):
        started = time.perf_counter()
        connection.request("GET", path, headers={"Accept": accept})
        response = connection.getresponse()
        body = response.read()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
        size = len(body)
    connection.close()
    return timings[0], timings[1:], size


def build_project(directory: Path, name: str, files: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(files // 2):
        version = f"{n // 100}.{n % 100}.0"
        for dist in (make_wheel(name, version), make_sdist(name, version)):
            (directory / dist.filename).write_bytes(dist.data)


DATABASE: dict[str, str] = {}  # RENNET_DATABASE_URL for every command and server, with --postgres


def rennet(*args: str, data: Path, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(RENNET), *args, "--data-dir", str(data)],
        input=stdin,
        capture_output=True,
        text=True,
        env=hermetic_env(**DATABASE),
        check=True,
    )
    return done.stdout


def start(data: Path, port: int) -> Process:
    server = Process(
        "rennet-hosted",
        [
            str(RENNET),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--upstream",
            "http://127.0.0.1:9/simple/",
        ],
        env=hermetic_env(**DATABASE),
    )
    wait_http(f"http://127.0.0.1:{port}/health", server)
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=300, help="small wheels to upload (300)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000], help="files per big project")
    parser.add_argument("--requests", type=int, default=200, help="warm requests per latency sample (200)")
    parser.add_argument(
        "--postgres", action="store_true", help="the catalog in a throwaway PostgreSQL (Debian's) instead of SQLite"
    )
    args = parser.parse_args()
    if args.postgres:
        from run import postgres

        DATABASE["RENNET_DATABASE_URL"] = postgres().create_database()

    root = WORK / "hosted"
    shutil.rmtree(root, ignore_errors=True)
    data = root / "data"
    port = free_port()
    server = start(data, port)  # first: the commands work on the data directory a server made
    rennet("user", "add", "bench", "--admin", "--password-stdin", data=data, stdin="bench-password-1\n")
    token = rennet("token", "create", "--user", "bench", "--index", "local", data=data).strip()
    results: list[str] = []
    try:
        for clients in (1, 8):
            dists = [make_wheel(f"up-{clients}-{n}", "1.0") for n in range(args.uploads)]
            seconds = upload_all(port, token, dists, clients)
            line = f"uploads, {clients} client(s): {len(dists)} in {seconds:.2f} s = {len(dists) / seconds:.0f}/s"
            log(line)
            results.append(line)
        server.stop()
        for size in args.sizes:
            name = f"big-{size}"
            source = root / "dists" / name
            log(f"building {size} files of {name}")
            build_project(source, name, size)
            started = time.perf_counter()
            rennet("import", str(source), "--index", "local", data=data)
            seconds = time.perf_counter() - started
            results.append(f"import of {name}: {size} files in {seconds:.1f} s ({size / seconds:.0f} files/s)")
            log(results[-1])
        server = start(data, port)  # a restart: nothing in memory
        for size in args.sizes:
            for label, path, accept in (
                ("JSON", f"/local/simple/big-{size}/", JSON_ACCEPT),
                ("HTML", f"/local/simple/big-{size}/", "text/html"),
                ("JSON via group", f"/simple/big-{size}/", JSON_ACCEPT),
            ):
                first, warm, body = page_latencies(port, path, accept, args.requests)
                load = wrk(f"http://127.0.0.1:{port}{path}", {"Accept": accept}, 16, 3, 1)
                warm.sort()
                line = (
                    f"{size} files, {label}: {body / 1024:.0f} KiB, first {first:.1f} ms, warm median "
                    f"{statistics.median(warm):.2f} ms, p95 {warm[int(len(warm) * 0.95)]:.2f} ms, "
                    f"{load.rps:,.0f} req/s"
                )
                log(line)
                results.append(line)
    finally:
        server.stop()
    print("\n".join(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
