"""The warm page beside its floor: nginx serving the upstream's page, a bare ASGI app on the same Granian serving
rennet's rendered page, and rennet itself, taking turns.

    python3 bench/page_floor.py                 # 5 rounds of 3 s each
    python3 bench/page_floor.py --rounds 9 --no-reinstall

The bare app is what the stack costs with no application at all: the bytes rennet sends for bench/run.py's
200-file page (`mid-p1-0`, JSON, about 69 KB) and its headers, from memory, on Granian with uvloop and one worker,
as `rennet serve` runs. So the gap between rennet and nginx splits into what Granian and Python cost per response
and what rennet adds. `wrk -t1 -c32` with pip's Accept header, as bench/run.py measures pages.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    PIP_ACCEPT,
    WORK,
    Process,
    build_fixture,
    ensure_tools,
    ensure_venv,
    free_port,
    hermetic_env,
    http_get,
    start_nginx,
    start_rennet,
    wait_http,
    wrk,
)

BARE_APP = """
import json
from pathlib import Path

_HERE = Path(__file__).parent
BODY = (_HERE / "body").read_bytes()
HEADERS = [(k.encode(), v.encode()) for k, v in json.loads((_HERE / "headers.json").read_text())]
HEADERS.append((b"content-length", str(len(BODY)).encode()))


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""


def start_bare(directory: Path, body: bytes, headers: dict[str, str]) -> tuple[Process, str]:
    """The bare ASGI app on the rennet venv's Granian, as `rennet serve` configures it."""
    (directory / "body").write_bytes(body)
    keep = ("content-type", "etag", "vary", "cache-control")
    (directory / "headers.json").write_text(json.dumps([[k, v] for k, v in headers.items() if k in keep]))
    (directory / "bare_page.py").write_text(BARE_APP)
    port = free_port()
    granian = WORK / "venvs" / "rennet" / "bin" / "granian"
    command = [str(granian), "--interface", "asgi", "--loop", "uvloop", "--workers", "1"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-ws", "bare_page:app"]
    process = Process("bare-asgi", command, hermetic_env(), cwd=directory)
    wait_http(f"http://127.0.0.1:{port}/", process)
    return process, f"http://127.0.0.1:{port}/simple/mid-p1-0/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the servers take turns within each (5)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run (3)")
    parser.add_argument("--no-reinstall", action="store_true", help="keep the rennet venv as it is")
    args = parser.parse_args()
    ensure_tools()
    ensure_venv("rennet", reinstall_rennet=not args.no_reinstall)
    fixture = build_fixture(WORK / "fixture")
    nginx_port = free_port()
    nginx = start_nginx(fixture.root, nginx_port)
    processes = [nginx]
    try:
        with tempfile.TemporaryDirectory(dir=WORK) as data, tempfile.TemporaryDirectory(dir=WORK) as bare_dir:
            rennet, index = start_rennet(f"http://127.0.0.1:{nginx_port}/simple/", Path(data), name="floor-rennet")
            processes.append(rennet)
            page = f"{index}{fixture.big_page_project}/"
            status, headers, body = http_get(page, {"Accept": PIP_ACCEPT})
            if status != 200:
                raise RuntimeError(f"GET {page}: {status}")
            bare, bare_url = start_bare(Path(bare_dir), body, headers)
            processes.append(bare)
            targets = {
                "nginx": f"http://127.0.0.1:{nginx_port}/simple/{fixture.big_page_project}/",
                "bare ASGI": bare_url,
                "rennet": page,
            }
            rates: dict[str, list[float]] = {name: [] for name in targets}
            for round_ in range(1, args.rounds + 1):
                for name, url in targets.items():
                    rates[name].append(wrk(url, {"Accept": PIP_ACCEPT}, 32, args.duration, 1).rps)
                print(f"round {round_}: " + "  ".join(f"{n} {r[-1]:,.0f}" for n, r in rates.items()), flush=True)
    finally:
        for process in reversed(processes):
            process.stop()
    best = {name: max(values) for name, values in rates.items()}
    print(f"page of {len(body):,} bytes, req/s best (median):")
    for name, values in rates.items():
        median, ratio = statistics.median(values), best[name] / best["nginx"]
        print(f"  {name:10s} {best[name]:9,.0f} ({median:,.0f})  {ratio:.2f}x nginx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
