"""Inputs of `rennet mirror` written by the tests: PEP 751 and uv lock files and hash-pinned requirements of the
fake upstream's files; and which files the upstream was asked for."""

from __future__ import annotations

from pathlib import Path

from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream


def fetched(upstream: FakeUpstream) -> set[str]:
    """Distribution files the upstream was asked for (not their .metadata)."""
    return {
        path.removeprefix("/files/")
        for path, count in upstream.requests.items()
        if path.startswith("/files/") and not path.endswith(".metadata") and count
    }


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def pylock(upstream: FakeUpstream, *dists: Dist, sha256: dict[str, str] | None = None) -> str:
    """A PEP 751 lock of the given wheels and sdists, with URLs of the fake upstream's files."""
    lines = ['lock-version = "1.0"', 'created-by = "tests"', ""]
    for dist in dists:
        digest = (sha256 or {}).get(dist.filename, dist.sha256)
        version = dist.filename.split("-")[1].removesuffix(".tar.gz")
        artifact = f'{{ url = "{upstream.file_url(dist.filename)}", hashes = {{ sha256 = "{digest}" }} }}'
        lines += ["[[packages]]", f'name = "{dist.project}"', f'version = "{version}"', f'index = "{upstream.url}"']
        lines.append(f"wheels = [{artifact}]" if dist.filename.endswith(".whl") else f"sdist = {artifact}")
        lines.append("")
    return "\n".join(lines)


def uv_lock(upstream: FakeUpstream, *dists: Dist, git: tuple[str, ...] = ()) -> str:
    """A uv.lock (version 1) of the given wheels, plus packages that come from a git repository."""
    lines = ["version = 1", "revision = 2", 'requires-python = ">=3.8"', ""]
    for dist in dists:
        version = dist.filename.split("-")[1]
        wheel = f'{{ url = "{upstream.file_url(dist.filename)}", hash = "sha256:{dist.sha256}", size = {len(dist.data)} }}'
        lines += ["[[package]]", f'name = "{dist.project}"', f'version = "{version}"']
        lines += [f'source = {{ registry = "{upstream.url}" }}', f"wheels = [{wheel}]", ""]
    for name in git:
        lines += ["[[package]]", f'name = "{name}"', 'version = "0.1.0"']
        lines += [f'source = {{ git = "https://git.example.invalid/{name}?rev=main#0123abcd" }}', ""]
    return "\n".join(lines)


def hashed_requirements(*dists: Dist) -> str:
    return "".join(f"{d.project}=={d.filename.split('-')[1]} --hash=sha256:{d.sha256}\n" for d in dists)
