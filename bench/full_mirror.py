"""`python bench/mirror.py --full N`: a full mirror of a generated upstream of N projects, against nginx's raw rate.

The upstream is a static tree written here: N projects with `--releases` releases each (one small real wheel per
release, with its PEP 658 .metadata), PEP 691 JSON pages, and a JSON root that carries `_last-serial` per project
as PyPI's does. nginx serves it on loopback (no latency proxy: the point is rennet's own cost per file against the
link's raw rate). Measured, each in a process of its own:

- raw: every wheel fetched from nginx with aiohttp, `--concurrency` at a time (the link's rate);
- full: `rennet mirror --all` into a new data directory (files/s, MB/s, peak RSS);
- no-change: `rennet mirror --sync` at once after (nothing changed upstream);
- 1 % changed: a new release of 1 % of the projects (their serials move), then `rennet mirror --sync`;
- the catalog's size after, per project and per file (SQLite).

Peak memory is the child's maximum resident set (wait4). The tree is rebuilt only when N or the releases change.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from run import NGINX_CONF, Process, free_port, hermetic_env, nginx_binary, wait_http

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work"
TREE = WORK / "full-mirror-tree"
RUNS = WORK / "full-mirror"
MB = 1_000_000


@dataclass
class Step:
    name: str
    seconds: float
    files: int = 0
    size: int = 0
    peak_mb: float = 0.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the generated upstream ----------------------------------------------------------------------------------------


def filler(seed: str, size: int) -> bytes:
    """`size` bytes that differ per seed and stay the same for it."""
    digest = hashlib.sha256(seed.encode()).hexdigest().encode()
    return (digest * (size // len(digest) + 1))[:size]


def wheel_bytes(name: str, version: str, padding: int) -> tuple[str, bytes, bytes]:
    module = name.replace("-", "_")
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()
    dist_info = f"{module}-{version}.dist-info"
    buffer = io.BytesIO()
    members = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n#".encode() + filler(f"{name} {version}", padding),
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/RECORD": b"",
    }
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for member, data in members.items():
            # A fixed time: a release written again (when a project changes) keeps its bytes.
            archive.writestr(zipfile.ZipInfo(member, (2020, 1, 1, 0, 0, 0)), data)
    return f"{module}-{version}-py3-none-any.whl", buffer.getvalue(), metadata


class Tree:
    """The static upstream: pages, files and the root, with a serial per project."""

    def __init__(self, root: Path, projects: int, releases: int, padding: int) -> None:
        self.root, self.projects, self.releases, self.padding = root, projects, releases, padding
        self.serials: dict[str, int] = {}
        self.serial = 0

    def names(self) -> list[str]:
        return [f"gen-{n:06d}" for n in range(self.projects)]

    def build(self) -> None:
        stamp = self.root / "built.json"
        wanted = {"projects": self.projects, "releases": self.releases, "padding": self.padding}
        if stamp.exists() and json.loads(stamp.read_text()).get("wanted") == wanted:
            self.serials = json.loads(stamp.read_text())["serials"]
            self.serial = max(self.serials.values(), default=0)
            return
        shutil.rmtree(self.root, ignore_errors=True)
        for name in self.names():
            self.write_project(name, [f"1.{r}" for r in range(self.releases)])
        self.write_root()
        stamp.write_text(json.dumps({"wanted": wanted, "serials": self.serials}))

    def write_project(self, name: str, versions: list[str]) -> None:
        files_dir = self.root / "files" / name
        files_dir.mkdir(parents=True, exist_ok=True)
        entries = []
        for version in versions:
            filename, data, metadata = wheel_bytes(name, version, self.padding)
            (files_dir / filename).write_bytes(data)
            (files_dir / f"{filename}.metadata").write_bytes(metadata)
            entries.append({
                "filename": filename,
                "url": f"../../files/{name}/{filename}",
                "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
                "size": len(data),
                "core-metadata": {"sha256": hashlib.sha256(metadata).hexdigest()},
            })  # fmt: skip
        self.serial += 1
        self.serials[name] = self.serial
        page = {"meta": {"api-version": "1.1", "_last-serial": self.serial}, "name": name, "files": entries}
        page_dir = self.root / "simple" / name
        page_dir.mkdir(parents=True, exist_ok=True)
        (page_dir / "index.json").write_text(json.dumps(page))

    def write_root(self) -> None:
        simple = self.root / "simple"
        projects = [{"name": n, "_last-serial": self.serials[n]} for n in self.names()]
        body = {"meta": {"api-version": "1.1", "_last-serial": self.serial}, "projects": projects}
        (simple / "index.json").write_text(json.dumps(body))
        (simple / "index.html").write_text("".join(f'<a href="{n}/">{n}</a>\n' for n in self.names()))

    def change(self, fraction: float) -> int:
        """A new release of every 1/fraction-th project; how many changed."""
        step = max(1, round(1 / fraction))
        changed = self.names()[::step]
        for name in changed:
            self.write_project(name, [*(f"1.{r}" for r in range(self.releases)), "2.0"])
        self.write_root()
        (self.root / "built.json").unlink(missing_ok=True)  # the next run starts from a clean tree
        return len(changed)

    def wheels(self) -> list[Path]:
        return sorted((self.root / "files").glob("*/*.whl"))


def start_nginx(root: Path) -> tuple[Process, str]:
    port = free_port()
    tmp = RUNS / "nginx"
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root.resolve()))
    command = [nginx_binary(), "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"]
    nginx = Process("full-mirror-nginx", command)
    wait_http(f"http://127.0.0.1:{port}/simple/", nginx)
    return nginx, f"http://127.0.0.1:{port}"


# -- the measurements ----------------------------------------------------------------------------------------------


async def fetch_all(base: str, paths: list[str], concurrency: int) -> int:
    import aiohttp

    gate = asyncio.Semaphore(concurrency)
    total = 0
    async with aiohttp.ClientSession() as session:

        async def one(path: str) -> None:
            nonlocal total
            async with gate, session.get(base + path) as response:
                response.raise_for_status()
                async for chunk in response.content.iter_chunked(1 << 16):
                    total += len(chunk)

        await asyncio.gather(*(one(p) for p in paths))
    return total


def raw_rate(tree: Tree, base: str, concurrency: int) -> Step:
    paths = ["/" + str(p.relative_to(tree.root)) for p in tree.wheels()]
    started = time.monotonic()
    size = asyncio.run(fetch_all(base, paths, concurrency))
    return Step(f"raw: aiohttp from nginx, {concurrency} at a time", time.monotonic() - started, len(paths), size)


def rennet(args: list[str], data: Path, upstream: str) -> tuple[float, float, str]:
    """Seconds, peak RSS in MB (the child's own, from wait4), and the last line of one rennet command's output."""
    env = hermetic_env()
    command = [str(BENCH.parent / ".venv" / "bin" / "rennet"), *args, "--data-dir", str(data), "--upstream", upstream]
    out_path, err_path = RUNS / "stdout.txt", RUNS / "stderr.txt"
    started = time.monotonic()
    with out_path.open("w") as out, err_path.open("w") as err:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    output = out_path.read_text()
    if child.returncode != 0:
        raise RuntimeError(f"rennet {' '.join(args)} failed ({child.returncode}):\n{output}\n{err_path.read_text()}")
    return seconds, usage.ru_maxrss / 1024, output.strip().splitlines()[-1]


def catalog_size(data: Path) -> int:
    return sum(p.stat().st_size for p in data.glob("rennet.sqlite3*"))


def run_full(projects: int, releases: int, padding: int, concurrency: int) -> str:
    tree = Tree(TREE, projects, releases, padding)
    log(f"generating {projects} projects x {releases} releases (reused when unchanged)")
    tree.build()
    nginx, base = start_nginx(TREE)
    data = RUNS / "data"
    shutil.rmtree(data, ignore_errors=True)
    (data / "blobs").mkdir(parents=True)  # a new data directory, as `rennet serve` would leave it
    upstream = base + "/simple/"
    steps: list[Step] = []
    try:
        log("raw rate")
        steps.append(raw_rate(tree, base, concurrency))
        wheel_bytes_total = sum(p.stat().st_size for p in tree.wheels())
        common = ["--min-free", "0", "--concurrency", str(concurrency)]
        log("full mirror")
        seconds, peak, line = rennet(["mirror", "--all", *common], data, upstream)
        wheels = len(tree.wheels())
        steps.append(Step("rennet mirror --all (new data directory)", seconds, wheels, wheel_bytes_total, peak))
        log(line)
        log("no-change sync")
        seconds, peak, line = rennet(["mirror", "--sync", *common], data, upstream)
        steps.append(Step("rennet mirror --sync, nothing changed", seconds, 0, 0, peak))
        log(line)
        changed = tree.change(0.01)
        log(f"1 % changed ({changed} projects with a new release)")
        seconds, peak, line = rennet(["mirror", "--sync", *common], data, upstream)
        new_size = sum(p.stat().st_size for p in tree.wheels() if p.name.split("-")[1] == "2.0")
        steps.append(Step(f"rennet mirror --sync, {changed} projects changed", seconds, changed, new_size, peak))
        log(line)
        size = catalog_size(data)
    finally:
        nginx.stop()
    files = projects * releases + changed
    return table(steps, projects, releases, padding, size, files)


def table(steps: list[Step], projects: int, releases: int, padding: int, catalog: int, files: int) -> str:
    lines = [
        f"Generated upstream: {projects} projects x {releases} releases, one wheel each (~{padding // 1000} kB), "
        "nginx on loopback.",
        "",
        "| step | seconds | files | MB | files/s | MB/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for step in steps:
        rate = step.files / step.seconds if step.files else 0
        mbps = step.size / MB / step.seconds if step.size else 0
        peak = f"{step.peak_mb:.0f}" if step.peak_mb else ""
        lines.append(
            f"| {step.name} | {step.seconds:.2f} | {step.files} | {step.size / MB:.1f} | {rate:.1f} | {mbps:.1f} "
            f"| {peak} |"
        )
    lines += ["", f"Catalog (SQLite) after: {catalog / MB:.1f} MB, {catalog / files:.0f} bytes per file held "
              f"({catalog / projects:.0f} per project)."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit("run it as: python bench/mirror.py --full N")
