"""The benchmark's upstream: a static PEP 503 + PEP 691 tree of wheels and sdists built here, byte for byte
reproducible, with nothing but the standard library (the script runs with any Python 3.11).

Layout written under ROOT:

    simple/index.html, simple/index.json                   the project list
    simple/<project>/index.html, simple/<project>/index.json
    files/<filename>, files/<wheel>.metadata              distributions and PEP 658 metadata

Independent dependency trees of the same shape, so that every cold install meets a cold cache in every server
without restarting it: trees `p1`..`pN` for the pip runs and `u1`..`uN` for the uv runs (N = repeats):

    app-<t>  ->  mid-<t>-0 .. mid-<t>-7  ->  leaf-<t>-0 .. leaf-<t>-31 (5 each, some chained)  ->  core-<t>

That is 42 projects per tree, 42 small wheels installed per install. Each project has several releases (a wheel and
an sdist each, 3 to 40 releases); `mid-p1-0` has 100 releases (200 files), the "big page" used for page rates. One
extra project, `bigwheel`, holds a single large wheel for the throughput runs.

The distributions themselves are built by the tests' own builders (tests/support/dists.py, standard library only).
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.dists import canonical, metadata_text, sdist_file, wheel_file

__all__ = ["Built", "Fixture", "build_fixture", "canonical", "trees_for", "write_project", "write_root"]

MIDS = 8
LEAVES = 32
BIG_PAGE_RELEASES = 100
_FORMAT = 3  # bump when the layout changes, so a stale tree is rebuilt


@dataclass(frozen=True)
class Built:
    filename: str
    size: int
    sha256: str
    metadata_sha256: str | None
    requires_python: str | None
    upload_time: str


@dataclass(frozen=True)
class Fixture:
    root: Path
    top_level: dict[str, str]  # tree -> top-level project
    installed_per_tree: int  # how many distributions one install of a top-level project brings
    big_page_project: str  # a project with many releases: the page used for page rates
    small_file: str  # filename of a small wheel that the pip install fetches (so it is cached)
    large_file: str  # filename of the large wheel
    large_size: int
    files: int
    projects: int


def _plan(trees: list[str], large_mb: int) -> dict[str, dict[str, object]]:
    """project -> {releases, requires, padding}: the whole fixture, deterministic."""
    rnd = random.Random(2024)
    plan: dict[str, dict[str, object]] = {}
    for tree in trees:
        plan[f"core-{tree}"] = {"releases": 30, "requires": [], "padding": 20_000}
        for leaf in range(LEAVES):
            requires = [f"core-{tree}>=1.0"]
            if leaf % 4 == 0 and leaf + 1 < LEAVES:
                requires.append(f"leaf-{tree}-{leaf + 1}>=1.0")  # a short chain inside the leaves
            plan[f"leaf-{tree}-{leaf}"] = {
                "releases": rnd.randint(3, 40),
                "requires": requires,
                "padding": rnd.randint(2_000, 30_000),
            }
        for mid in range(MIDS):
            leaves = [f"leaf-{tree}-{(mid * 4 + k) % LEAVES}>=1.0" for k in range(4)]
            leaves.append(f"leaf-{tree}-{(mid * 4 + 7) % LEAVES}>=1.0")
            plan[f"mid-{tree}-{mid}"] = {
                "releases": BIG_PAGE_RELEASES if (tree, mid) == (trees[0], 0) else rnd.randint(5, 40),
                "requires": leaves,
                "padding": rnd.randint(5_000, 60_000),
            }
        plan[f"app-{tree}"] = {
            "releases": 12,
            "requires": [f"mid-{tree}-{mid}>=1.0" for mid in range(MIDS)],
            "padding": 3_000,
        }
    plan["bigwheel"] = {"releases": 1, "requires": [], "padding": large_mb << 20, "no_sdist": True}
    return plan


def _version(index: int) -> str:
    return f"1.{index // 10}.{index % 10}"


def trees_for(repeats: int) -> list[str]:
    return [f"p{n}" for n in range(1, repeats + 1)] + [f"u{n}" for n in range(1, repeats + 1)]


def build_fixture(root: Path, repeats: int = 3, large_mb: int = 64) -> Fixture:
    """Write the tree under root (reused as is when already built with the same parameters)."""
    trees = trees_for(repeats)
    plan = _plan(trees, large_mb)
    stamp = root / "fixture.json"
    key = {"format": _FORMAT, "large_mb": large_mb, "trees": trees}
    if stamp.exists():
        saved = json.loads(stamp.read_text())
        if saved.get("key") == key:
            return Fixture(root=root, **saved["fixture"])
    if root.exists():
        shutil.rmtree(root)
    files_dir = root / "files"
    simple = root / "simple"
    files_dir.mkdir(parents=True)
    simple.mkdir(parents=True)
    count = 0
    small_file = large_file = ""
    large_size = 0
    for project, spec in plan.items():
        releases = int(spec["releases"])  # type: ignore[call-overload]
        requires = list(spec["requires"])  # type: ignore[call-overload]
        built: list[Built] = []
        for index in range(releases):
            version = _version(index)
            requires_python = ">=3.8" if index % 3 else None
            upload_time = f"2024-{1 + index % 12:02d}-{1 + index % 28:02d}T{index % 24:02d}:00:00.000000Z"
            summary = f"{project}, a benchmark fixture"
            metadata = metadata_text(project, version, tuple(requires), requires_python, summary=summary).encode()
            padding = int(spec["padding"])  # type: ignore[call-overload]
            filename, data = wheel_file(project, version, metadata, padding, generator="rennet-bench")
            (files_dir / filename).write_bytes(data)
            (files_dir / f"{filename}.metadata").write_bytes(metadata)
            built.append(
                Built(
                    filename,
                    len(data),
                    hashlib.sha256(data).hexdigest(),
                    hashlib.sha256(metadata).hexdigest(),
                    requires_python,
                    upload_time,
                )
            )
            if project == f"leaf-{trees[0]}-3" and index == releases - 1:
                small_file = filename
            if project == "bigwheel":
                large_file, large_size = filename, len(data)
            if not spec.get("no_sdist"):
                filename, data = sdist_file(project, version, metadata)
                (files_dir / filename).write_bytes(data)
                built.append(
                    Built(filename, len(data), hashlib.sha256(data).hexdigest(), None, requires_python, upload_time)
                )
        count += len(built)
        write_project(simple / project, project, built, [_version(i) for i in range(releases)])
    write_root(simple, sorted(plan))
    fixture = {
        "top_level": {tree: f"app-{tree}" for tree in trees},
        "installed_per_tree": 1 + MIDS + LEAVES + 1,
        "big_page_project": f"mid-{trees[0]}-0",
        "small_file": small_file,
        "large_file": large_file,
        "large_size": large_size,
        "files": count,
        "projects": len(plan),
    }
    stamp.write_text(json.dumps({"key": key, "fixture": fixture}, indent=1))
    return Fixture(root=root, **fixture)  # type: ignore[arg-type]


def write_project(directory: Path, name: str, built: list[Built], versions: list[str]) -> None:
    directory.mkdir()
    entries = []
    links = []
    for dist in built:
        url = f"../../files/{dist.filename}"
        entry: dict[str, object] = {
            "filename": dist.filename,
            "url": url,
            "hashes": {"sha256": dist.sha256},
            "requires-python": dist.requires_python,
            "size": dist.size,
            "upload-time": dist.upload_time,
            "yanked": False,
            "core-metadata": {"sha256": dist.metadata_sha256} if dist.metadata_sha256 else False,
        }
        entries.append(entry)
        attrs = f'href="{url}#sha256={dist.sha256}"'
        if dist.requires_python:
            attrs += f' data-requires-python="{html.escape(dist.requires_python)}"'
        if dist.metadata_sha256:
            meta = f"sha256={dist.metadata_sha256}"
            attrs += f' data-core-metadata="{meta}" data-dist-info-metadata="{meta}"'
        links.append(f"    <a {attrs}>{html.escape(dist.filename)}</a><br />")
    page = {
        "meta": {"api-version": "1.1", "_last-serial": 1000},
        "name": name,
        "versions": versions,
        "files": entries,
    }
    (directory / "index.json").write_text(json.dumps(page))
    (directory / "index.html").write_text(
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.1">\n'
        f"    <title>Links for {name}</title>\n  </head>\n  <body>\n"
        f"    <h1>Links for {name}</h1>\n" + "\n".join(links) + "\n  </body>\n</html>\n"
    )


def write_root(simple: Path, names: list[str]) -> None:
    (simple / "index.json").write_text(
        json.dumps({"meta": {"api-version": "1.1", "_last-serial": 1000}, "projects": [{"name": n} for n in names]})
    )
    anchors = "\n".join(f'    <a href="{n}/">{n}</a><br />' for n in names)
    (simple / "index.html").write_text(
        '<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n'
        f"    <title>Simple index</title>\n  </head>\n  <body>\n{anchors}\n  </body>\n</html>\n"
    )
