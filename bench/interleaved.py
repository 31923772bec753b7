"""Builds of rennet side by side: the warm page rate of each (and with --file, the rate of a cached small
wheel), the servers taking turns, and the CPU each server spends per request (a shared machine moves rates by
10-20 %; CPU per request moves less).

    python3 bench/interleaved.py --build before=/tmp/venv-main --build after=.venv \\
        --build "after, no metrics=.venv:--no-metrics" --rounds 8

Each build is a venv with rennet installed (and flags for `rennet serve` after a colon). The fixture and the
nginx upstream are bench/run.py's (built on first use); each round runs `wrk -t1 -c32` for 3 s on the 200-file
page with pip's Accept header against every server in turn, after waiting (up to a minute) for a quiet machine,
and records the cores other processes used meanwhile; the summary counts the runs they left alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import run  # bench/run.py

QUIET = 0.25  # cores other processes may use during a run that counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="append", required=True, help="NAME=VENV[:FLAG,FLAG...]")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--file", action="store_true", help="also measure a cached small wheel")
    args = parser.parse_args()
    fixture = run.build_fixture(run.WORK / "fixture")
    nginx_port = run.free_port()
    processes = [run.start_nginx(fixture.root, nginx_port)]
    try:
        servers = {}
        for build in args.build:
            name, _, spec = build.partition("=")
            venv, _, flags = spec.partition(":")
            port = run.free_port()
            data = Path(tempfile.mkdtemp(prefix="interleaved-", dir=run.WORK))
            upstream = f"http://127.0.0.1:{nginx_port}/simple/"
            command = [f"{Path(venv).absolute()}/bin/rennet", "serve", "--port", str(port), "--data-dir", str(data)]
            command += ["--upstream", upstream, "--workers", str(args.workers), *filter(None, flags.split(","))]
            process = run.Process("interleaved-" + str(len(servers)), command, env=run.hermetic_env())
            processes.append(process)
            run.wait_http(f"http://127.0.0.1:{port}/health", process)
            url = f"http://127.0.0.1:{port}/simple/{fixture.big_page_project}/"
            status, _, _ = run.http_get(url, {"Accept": run.PIP_ACCEPT})
            assert status == 200, f"{name}: {status}"
            servers[name] = (process, url)
            if args.file:
                small_page = url.rsplit("/", 2)[0] + f"/{fixture.small_file.split('-')[0].replace('_', '-')}/"
                small_url = run.file_urls(small_page)[fixture.small_file]
                status, _, _ = run.http_get(small_url)  # fetched once: then held
                assert status == 200, f"{name}: {status} for {small_url}"
                servers[f"{name} (file)"] = (process, small_url)
        run.Watch.roots = [process.pid for process in processes]  # the rest of the machine is "other processes"
        samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in servers}
        for number in range(args.rounds):
            for name, (process, url) in servers.items():
                samples[name].append(measure(process, url))
            run.log(
                f"round {number + 1}: "
                + "; ".join(
                    f"{n} {s[-1][0]:,.0f} req/s, {s[-1][1]:.1f} µs, others {s[-1][2]:.2f}" for n, s in samples.items()
                )
            )
        for name, found in samples.items():
            # Runs that other processes disturbed only ever look slower: the quiet ones count, if there are any.
            quiet = [sample for sample in found if sample[2] <= QUIET]
            rates, cpu, _ = zip(*(quiet or found), strict=True)
            counted = f"{len(quiet)} of {len(found)} runs quiet" if quiet else f"no quiet run: all {len(found)} count"
            run.log(
                f"{name}: {counted}; page req/s best {max(rates):,.0f} median "
                f"{statistics.median(rates):,.0f}; server CPU per request min {min(cpu):.1f} median "
                f"{statistics.median(cpu):.1f} µs"
            )
    finally:
        for process in processes:
            process.stop()


def measure(process: run.Process, url: str) -> tuple[float, float, float]:
    """(requests per second, server CPU µs per request, cores other processes used) of one wrk run."""
    run.wait_quiet(60, 0.2)
    before = run._own_ticks([process.pid]) - run._own_ticks([])
    with run.Watch() as watch:
        load = run.wrk(url, {"Accept": run.PIP_ACCEPT}, 32, 3, 1)
    used = run._own_ticks([process.pid]) - run._own_ticks([]) - before
    return load.rps, used / run._CLK / (load.rps * 3) * 1e6, watch.foreign


if __name__ == "__main__":
    main()
