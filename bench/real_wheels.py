"""Cold installs of real wheels through rennet, beside the same installs straight from the upstream.

    python3 bench/real_wheels.py                       # 3 rounds, pip and uv
    python3 bench/real_wheels.py --rounds 5 --no-uv

The wheels of REQUIREMENTS and everything they need (Python 3.11 on this platform, wheels only) are downloaded once
with `pip download` into bench/work/real/files: a setup step, like creating the venvs, and the only one that talks
to the package registry. A static PEP 691 tree of them (bench/fixture.py's layout, with PEP 658 `.metadata` taken
from each wheel) is served by nginx behind bench/run.py's latency proxy (20 ms), which is every server's upstream.

Each round installs REQUIREMENTS into an empty `--target` with no client cache: straight from the upstream
("direct"), then through a new rennet with an empty data directory (one worker, access log on), once with pip and
once with uv. The rounds take turns so that a disturbance of the machine meets both alike, and the disk's writes are
flushed before each install (an install unpacks hundreds of MB). Printed: each install's seconds, and the ratio of
rennet to direct (best of the rounds, and median).
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture import Built, canonical, write_project, write_root
from run import (
    WORK,
    ensure_tools,
    ensure_venv,
    free_port,
    install,
    start_latency_proxy,
    start_nginx,
    start_rennet,
)

REQUIREMENTS = ["requests", "flask", "pandas", "fastapi", "sqlalchemy", "boto3", "uvicorn", "httpx", "scipy"]
REAL = WORK / "real"


def download(files: Path) -> None:
    """The wheels, once (kept while the requirement list is the same)."""
    stamp = files / ".requirements"
    if stamp.exists() and stamp.read_text() == " ".join(REQUIREMENTS):
        return
    files.mkdir(parents=True, exist_ok=True)
    pip = [str(WORK / "venvs" / "client" / "bin" / "python"), "-m", "pip", "download", "--quiet"]
    subprocess.run([*pip, "--only-binary=:all:", "--dest", str(files), *REQUIREMENTS], check=True)
    stamp.write_text(" ".join(REQUIREMENTS))


def build_tree(files: Path) -> int:
    """simple/ and the .metadata files beside the wheels; returns how many wheels an install brings."""
    projects: dict[str, list[Built]] = {}
    for wheel in sorted(files.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            metadata = archive.read(name)
        (files / f"{wheel.name}.metadata").write_bytes(metadata)
        headers = email.parser.BytesHeaderParser().parsebytes(metadata)
        built = Built(
            filename=wheel.name,
            size=wheel.stat().st_size,
            sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
            metadata_sha256=hashlib.sha256(metadata).hexdigest(),
            requires_python=headers.get("Requires-Python"),
            upload_time=datetime.fromtimestamp(wheel.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        projects.setdefault(canonical(wheel.name.split("-")[0]), []).append(built)
    simple = REAL / "simple"
    if simple.exists():
        subprocess.run(["rm", "-rf", str(simple)], check=True)
    simple.mkdir()
    for project, built in projects.items():
        write_project(simple / project, project, built, sorted({b.filename.split("-")[1] for b in built}))
    write_root(simple, sorted(projects))
    return sum(len(built) for built in projects.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="latency in front of the upstream (20)")
    parser.add_argument("--no-uv", action="store_true", help="pip only")
    parser.add_argument("--no-reinstall", action="store_true", help="keep the rennet venv as it is")
    args = parser.parse_args()
    ensure_tools()
    ensure_venv("client")
    ensure_venv("rennet", reinstall_rennet=not args.no_reinstall)
    download(REAL / "files")
    wheels = build_tree(REAL / "files")
    nginx_port, proxy_port = free_port(), free_port()
    nginx = start_nginx(REAL, nginx_port)
    proxy = start_latency_proxy(nginx_port, proxy_port, args.delay_ms)
    upstream = f"http://127.0.0.1:{proxy_port}/simple/"
    project = " ".join(REQUIREMENTS)
    tools = ["pip"] if args.no_uv else ["pip", "uv"]
    times: dict[tuple[str, str], list[float]] = {}
    print(f"{wheels} wheels per install ({sum(f.stat().st_size for f in (REAL / 'files').glob('*.whl')) >> 20} MiB)")
    try:
        for round_ in range(1, args.rounds + 1):
            for tool in tools:
                for where in ("direct", "rennet"):
                    # Each install writes hundreds of MB: the one before's writes are flushed first, so that
                    # neither pays for the other's.
                    os.sync()
                    if where == "direct":
                        seconds = install(tool, upstream, project, wheels)
                    else:
                        with tempfile.TemporaryDirectory(dir=WORK) as data:
                            server, index = start_rennet(upstream, Path(data), name="real-wheels-rennet")
                            try:
                                seconds = install(tool, index, project, wheels)
                            finally:
                                server.stop()
                    times.setdefault((tool, where), []).append(seconds)
                    print(f"round {round_}: {tool:3s} {where:6s} {seconds:6.2f} s", flush=True)
    finally:
        proxy.stop()
        nginx.stop()
    for tool in tools:
        direct, rennet = times[(tool, "direct")], times[(tool, "rennet")]
        best = min(rennet) / min(direct)
        median = statistics.median(rennet) / statistics.median(direct)
        print(
            f"{tool}: direct best {min(direct):.2f} s, rennet best {min(rennet):.2f} s: {best:.2f}x "
            f"(medians {statistics.median(direct):.2f} / {statistics.median(rennet):.2f} s: {median:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
