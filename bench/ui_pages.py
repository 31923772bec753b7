"""The web UI's page of a project with many releases: how long it takes, and how large it is.

    .venv/bin/python bench/ui_pages.py                      # 2,000 releases of 3 wheels each, SQLite
    .venv/bin/python bench/ui_pages.py --releases 500 --files 10

A hosted project gets `--releases` releases of `--files` wheels each, written straight into the catalog of an
in-process server (tests/support: no upload is timed); then the UI's first page of releases, its last page, the
project through the default group, and the Simple API page of the same project are each asked once (the first
request, which builds the page) and `--requests` times more (median and worst, milliseconds), over HTTP.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support

import httpx

from tests.support.accounts import serving
from tests.support.server import LocalServer
from tests.support.store import hosted_upload

TAGS = ("py3-none-any", "cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-win_amd64", "cp311-cp311-macosx_11_0_arm64")


def fill(server: LocalServer, releases: int, files: int) -> None:
    catalog = server.registry.shared.catalog
    for number in range(releases):
        for which in range(files):
            tag = TAGS[which % len(TAGS)] if which < len(TAGS) else f"cp3{which}-cp3{which}-any"
            filename = f"big-1.{number}-{tag}.whl"
            upload = replace(hosted_upload(filename, f"{number:032x}{which:032x}"), version=f"1.{number}")
            catalog.add_hosted_file("local", "big", "big", upload)


def timed(client: httpx.Client, path: str, requests: int) -> str:
    started = time.perf_counter()
    first = client.get(path)
    first_ms = (time.perf_counter() - started) * 1000
    assert first.status_code == 200, (path, first.status_code)
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
    median, worst = statistics.median(samples), max(samples)
    return f"{path:40} {len(first.content) / 1024:9.0f} {first_ms:9.1f} {median:9.1f} {worst:9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, default=2000)
    parser.add_argument("--files", type=int, default=3, help="wheels per release")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base, serving(Path(base), "") as server:
        started = time.perf_counter()
        fill(server, args.releases, args.files)
        print(f"{args.releases} releases of {args.files} files written in {time.perf_counter() - started:.1f} s")
        last = -(-args.releases // 50)
        print(f"{'page':40} {'KiB':>9} {'first ms':>9} {'median':>9} {'worst':>9}")
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for path in ("/-/project/local/big/", f"/-/project/local/big/?page={last}", "/-/project/default/big/"):
                print(timed(client, path, args.requests))
            print(timed(client, "/simple/big/", args.requests))


if __name__ == "__main__":
    main()
