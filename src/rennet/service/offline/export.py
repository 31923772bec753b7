"""Writing a static copy of an index (`rennet export DIR`), for installs without rennet: file://, any web server.

Layout: DIR/simple/index.{html,json}, DIR/simple/<project>/index.{html,json} (rendered by rennet.domain.simple in
its static layout), DIR/files/<project>/<filename> and <filename>.metadata beside wheels. Links are relative, so
the tree can be moved or served under any path.

Only files whose bytes the data directory holds are listed: a page that listed a file the tree lacks would make
pip choose it and then fail offline. Nothing is written outside DIR (not even metadata taken out of a wheel, which
goes into the tree only). Every file is written under a temporary name and renamed once complete and verified, and
a file already there with the right bytes is left alone, so running the export again resumes or refreshes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.indexes import GroupIndex, leaf_members
from rennet.domain.names import canonical_name
from rennet.domain.simple import render_project_html, render_project_json, root_html_chunks, root_json_chunks
from rennet.service.archives import NoMetadata, read_wheel_metadata
from rennet.service.errors import ServiceError
from rennet.service.registry import Registry

__all__ = ["Candidate", "ExportError", "ExportTree", "ProjectPlan", "plan_export"]

PREFIX = "../../"  # from DIR/simple/<project>/ back to DIR/
TEMP_PREFIX = ".rennet-export-"
CHUNK = 1 << 20


class ExportError(Exception):
    """A file that could not be written into the tree, and why."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A listed file whose bytes (and maybe metadata) the data directory holds."""

    file: DistFile
    blob: Path
    sha256: str
    metadata: tuple[Path, str] | None  # the held .metadata blob and its sha256


@dataclass(frozen=True, slots=True)
class ProjectPlan:
    page: ProjectPage
    candidates: tuple[Candidate, ...]
    not_held: int  # listed files left out: their bytes are not in the data directory


async def plan_export(
    registry: Registry, index: str, projects: Sequence[str] | None
) -> tuple[list[ProjectPlan], list[str]]:
    """What to write: one plan per project worth exporting, and the requested projects that are not there.

    The registry should be offline: a page is exported as the index serves it now, never refreshed."""
    service = registry.indexes[index]
    names = list(projects) if projects is not None else await registry.shared.db(_project_names, registry, index)
    plans: list[ProjectPlan] = []
    missing: list[str] = []
    for name in names:
        try:
            page = (await service.project_page(name)).page
        except ServiceError:
            page = None
        if page is None:
            if projects is not None:
                missing.append(name)
            continue
        plan = await registry.shared.db(_plan_project, registry, page)
        # A page without files is worth a copy when it says why (a quarantined project lists none).
        if plan.candidates or (not page.listed_files and page.status is not None) or projects is not None:
            plans.append(plan)
    return plans, missing


def _project_names(registry: Registry, index: str) -> list[str]:
    config = registry.settings.indexes[index]
    members = leaf_members(registry.settings.indexes, index) if isinstance(config, GroupIndex) else (index,)
    names = {canonical_name(name) for member in members for name in registry.shared.catalog.project_names(member)}
    return sorted(names)


def _plan_project(registry: Registry, page: ProjectPage) -> ProjectPlan:
    catalog, blobs = registry.shared.catalog, registry.shared.blobs
    candidates: list[Candidate] = []
    for file in page.listed_files:
        record = catalog.file(file.index, page.name, file.filename)
        blob = blobs.held_path(record.blob_sha256) if record is not None and record.blob_sha256 else None
        if record is None or record.blob_sha256 is None or blob is None:
            continue
        metadata = None
        if record.metadata_sha256 and (held := blobs.held_path(record.metadata_sha256)) is not None:
            metadata = (held, record.metadata_sha256)
        candidates.append(Candidate(file, blob, record.blob_sha256, metadata))
    # Offline pages list only held files; count what the index would list online but cannot be copied.
    unheld = sum(catalog.unheld_count(index, page.name) for index in {file.index for file in page.files})
    return ProjectPlan(page, tuple(candidates), len(page.listed_files) - len(candidates) + unheld)


Report = Callable[[Candidate, str, str], None]  # (file, "written" | "present" | "failed", message)


class ExportTree:
    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        """Create the tree, and remove temporary files an interrupted export left behind."""
        (self.root / "simple").mkdir(parents=True, exist_ok=True)
        for pattern in ("simple", "simple/*", "files/*"):
            for folder in self.root.glob(pattern):
                for leftover in folder.glob(TEMP_PREFIX + "*"):
                    with contextlib.suppress(OSError):
                        leftover.unlink()

    def write_project(self, plan: ProjectPlan, report: Report) -> int:
        """Write the project's files, then its pages listing those that are in place; returns how many."""
        exported: list[DistFile] = []
        for candidate in plan.candidates:
            try:
                file, written = self._write_file(plan.page.name, candidate)
            except (ExportError, OSError) as error:
                report(candidate, "failed", str(error))
                continue
            exported.append(file)
            report(candidate, "written" if written else "present", "")
        page = plan.page.with_files(tuple(exported))
        folder = self.root / "simple" / page.name
        _place_bytes(render_project_html(page, PREFIX, static=True), folder / "index.html")
        _place_bytes(render_project_json(page, PREFIX, static=True), folder / "index.json")
        return len(exported)

    def write_root(self, names: Iterable[str]) -> list[str]:
        """The project list: these projects and those an earlier export left in the tree."""
        simple = self.root / "simple"
        known = {canonical_name(name): name for name in names}
        for folder in simple.iterdir():
            if folder.is_dir() and (folder / "index.html").is_file():
                known.setdefault(canonical_name(folder.name), folder.name)
        listed = [known[key] for key in sorted(known)]
        _place_bytes("".join(root_html_chunks(listed)).encode(), simple / "index.html")
        _place_bytes("".join(root_json_chunks(listed)).encode(), simple / "index.json")
        return listed

    def _write_file(self, project: str, candidate: Candidate) -> tuple[DistFile, bool]:
        """The file (and its metadata) in the tree; returns it as the page lists it, and whether anything was
        written."""
        target = self.root / "files" / project / candidate.file.filename
        size = candidate.blob.stat().st_size
        written = _place_file(candidate.blob, target, candidate.sha256, size)
        metadata_target = target.with_name(target.name + ".metadata")
        claim: dict[str, str] | None = None
        if candidate.metadata is not None and (candidate.file.core_metadata is not None or _is_wheel(candidate)):
            path, sha256 = candidate.metadata
            written |= _place_file(path, metadata_target, sha256, path.stat().st_size)
            claim = {"sha256": sha256}
        elif _is_wheel(candidate):
            with contextlib.suppress(NoMetadata):  # a wheel without readable METADATA goes without .metadata
                data = read_wheel_metadata(candidate.blob, candidate.file.filename)
                written |= _place_bytes(data, metadata_target)
                claim = {"sha256": hashlib.sha256(data).hexdigest()}
        # The page promises exactly what the tree holds: these bytes, this size, this metadata.
        hashes = dict(candidate.file.hashes) | {"sha256": candidate.sha256}
        file = replace(candidate.file, hashes=hashes, size=size, core_metadata=claim, source_url=None)
        return file, written


def _is_wheel(candidate: Candidate) -> bool:
    return candidate.file.filename.lower().endswith(".whl")


def _place_file(source: Path, target: Path, sha256: str, size: int) -> bool:
    """Copy source to target unless target holds these bytes already; True when written. The copy is checked
    against `sha256` as it is made, so a damaged blob never reaches the tree."""
    if _holds(target, sha256, size):
        return False
    digest = hashlib.sha256()
    with source.open("rb") as incoming, _atomic(target) as out:
        while chunk := incoming.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise ExportError(f"the copy in the data directory is damaged: its sha256 is {digest.hexdigest()}")
    return True


def _place_bytes(data: bytes, target: Path) -> bool:
    """Write data to target unless it holds them already; True when written."""
    with contextlib.suppress(OSError):
        if target.stat().st_size == len(data) and target.read_bytes() == data:
            return False
    with _atomic(target) as out:
        out.write(data)
    return True


def _holds(target: Path, sha256: str, size: int) -> bool:
    try:
        if target.stat().st_size != size:
            return False
        digest = hashlib.sha256()
        with target.open("rb") as existing:
            while chunk := existing.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == sha256


@contextlib.contextmanager
def _atomic(target: Path) -> Iterator[BinaryIO]:
    """A temporary file beside target that replaces it once the block succeeds, and vanishes if it fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes files only their owner may read; a web server serving the tree runs as someone else.
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temp).unlink()
        raise
