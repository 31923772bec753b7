"""Project lists (the /simple/ root) rendered once into files, then sent from disk.

PyPI's list has ~700k names. It is never held whole nor parsed per request: names stream from the upstream body
into a names file, which is rendered into HTML, JSON and their gzip twins named by the digest of the names.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from rennet.domain.names import canonical_name
from rennet.domain.simple import root_html_chunks, root_json_chunks
from rennet.service.answers import Listing
from rennet.storage.errors import full_disk_named

__all__ = ["SUFFIXES", "WithoutDenied", "merged_names", "read_names", "write_listing"]

SUFFIXES = (".names", ".html", ".json", ".html.gz", ".json.gz")


def write_listing(directory: Path, names: Iterable[str]) -> tuple[Path, str, int]:
    """Write the list under `directory`; returns (stem, digest, count). Old renders beyond one are removed.
    Raises StorageFull when the disk is; no temporary file stays behind, whatever fails."""
    with full_disk_named("a project list"):
        return _write_listing(directory, names)


def _write_listing(directory: Path, names: Iterable[str]) -> tuple[Path, str, int]:
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    count = 0
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=".names-")
    with _removed_on_failure(temp_name):
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for name in names:
                line = name + "\n"
                out.write(line)
                digest.update(line.encode())
                count += 1
        hexdigest = digest.hexdigest()
        stem = directory / hexdigest
        os.replace(temp_name, stem.with_name(hexdigest + ".names"))
    _render(stem, root_html_chunks(read_names(stem)), ".html")
    _render(stem, root_json_chunks(read_names(stem)), ".json")
    _prune(directory, keep={hexdigest})
    return stem, hexdigest, count


def read_names(stem: Path) -> Iterator[str]:
    with stem.with_name(stem.name + ".names").open(encoding="utf-8") as names:
        for line in names:
            yield line.rstrip("\n")


def merged_names(stems: Iterable[Path]) -> Iterator[str]:
    """Names of several lists in order, each project once."""
    seen: set[str] = set()
    for stem in stems:
        for name in read_names(stem):
            key = canonical_name(name)
            if key not in seen:
                seen.add(key)
                yield name


class WithoutDenied:
    """An index's project list without the projects its deny rules name whole: rendered beside the whole lists
    (in listings/-denied/<index>/: no index name starts with "-"), once per whole list, by each worker."""

    def __init__(self, listings_dir: Path, index: str, denied: frozenset[str]) -> None:
        self.directory = listings_dir / "-denied" / index
        self.denied = denied
        self._made: tuple[str, Listing] | None = None  # the whole list's digest, and the list without

    async def __call__(self, whole: Listing) -> Listing:
        if not self.denied:
            return whole
        if self._made is None or self._made[0] != whole.digest or not self._made[1].stem.parent.exists():
            names = (name for name in read_names(whole.stem) if canonical_name(name) not in self.denied)
            stem, digest, count = await asyncio.to_thread(write_listing, self.directory, names)
            self._made = (whole.digest, Listing(stem, digest, count))
        return replace(self._made[1], cache=whole.cache)


def _render(stem: Path, chunks: Iterable[str], suffix: str) -> None:
    plain = stem.with_name(stem.name + suffix)
    packed = stem.with_name(stem.name + suffix + ".gz")
    fd_plain, temp_plain = tempfile.mkstemp(dir=stem.parent, prefix=".render-")
    with _removed_on_failure(temp_plain):
        fd_packed, temp_packed = tempfile.mkstemp(dir=stem.parent, prefix=".render-")
    with _removed_on_failure(temp_plain, temp_packed):
        with (
            os.fdopen(fd_plain, "wb") as out,
            os.fdopen(fd_packed, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as zipped,
        ):
            buffer: list[bytes] = []
            size = 0
            for chunk in chunks:
                data = chunk.encode()
                buffer.append(data)
                size += len(data)
                if size > 1 << 20:
                    _flush(buffer, out, zipped)
                    size = 0
            _flush(buffer, out, zipped)
        os.chmod(temp_plain, 0o644)
        os.chmod(temp_packed, 0o644)
        os.replace(temp_plain, plain)
        os.replace(temp_packed, packed)


@contextlib.contextmanager
def _removed_on_failure(*paths: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        for path in paths:
            Path(path).unlink(missing_ok=True)
        raise


def _flush(buffer: list[bytes], out: object, zipped: gzip.GzipFile) -> None:
    data = b"".join(buffer)
    out.write(data)  # type: ignore[attr-defined]
    zipped.write(data)
    buffer.clear()


def _prune(directory: Path, keep: set[str]) -> None:
    """Remove renders other than `keep` and the most recent older one (a client may still be reading it)."""
    stems = sorted(
        {p.name.split(".", 1)[0] for p in directory.iterdir() if not p.name.startswith(".")} - keep,
        key=lambda s: (directory / f"{s}.names").stat().st_mtime if (directory / f"{s}.names").exists() else 0,
    )
    for old in stems[:-1]:
        for suffix in SUFFIXES:
            with contextlib.suppress(FileNotFoundError):
                (directory / f"{old}{suffix}").unlink()
