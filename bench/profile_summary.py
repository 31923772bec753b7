"""Summarise a py-spy `--format raw` profile (collapsed stacks) written by `bench/run.py --profile`.

    python bench/profile_summary.py bench/work/profiles/rennet-page.txt [--top 25] [--filter rennet]

Prints the functions with the most samples on top of the stack (self) and anywhere in it (inclusive), as shares of
all samples of the process tree (idle samples are not recorded, so the shares are of busy time).
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")


def _frame(text: str) -> str:
    """ "function (package/module.py:123)" -> "function (package/module.py)"; "process 123:"cmd"" -> "process"."""
    if text.startswith("process "):
        return "process"
    match = re.match(r"^(.*) \((.*?):\d+\)$", text)
    return f"{match.group(1)} ({match.group(2)})" if match else text


def summarise(path: Path, top: int, needle: str | None) -> str:
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        stack, count = match.group(1).split(";"), int(match.group(2))
        frames = [_frame(f) for f in stack]
        total += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    out = [f"{path.name}: {total} samples"]
    for title, counter in (("self", self_time), ("inclusive", inclusive)):
        out.append(f"\n-- top {top} by {title} --")
        shown = 0
        for frame, count in counter.most_common():
            if needle and needle not in frame:
                continue
            out.append(f"{100 * count / max(total, 1):5.1f}%  {frame}")
            shown += 1
            if shown >= top:
                break
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--filter", help="only frames containing this text (e.g. rennet, starlette)")
    args = parser.parse_args()
    for profile in args.profiles:
        print(summarise(profile, args.top, args.filter))
        print()


if __name__ == "__main__":
    main()
