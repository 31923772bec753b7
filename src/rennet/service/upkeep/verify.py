"""Verification (`rennet verify`): every stored blob hashed again and compared with its name, its sha256.

A blob whose bytes do not match (a bad disk, a hand edit) is taken out of service: moved to
data_dir/quarantine/ for inspection, every catalog reference to it cleared and the pages' generations bumped, so
no worker sends it again. A proxy fetches such a file again on the next request; a hosted file is gone until it
is uploaded again. A blob the catalog refers to but the disk lacks is treated the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rennet.service.runtime.resources import Storage, page_changed
from rennet.storage.blobs import DigestMismatch, same_file
from rennet.storage.maintenance import BlobUse, CatalogMaintenance
from rennet.storage.objectstore import ObjectMissing

__all__ = ["BadBlob", "Verification", "plan_verification", "verify_blobs"]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class BadBlob:
    sha256: str
    problem: str  # "corrupt" or "missing"
    uses: tuple[BlobUse, ...]  # the rows that referred to it, in every index
    quarantined: Path | None = None


@dataclass(slots=True)
class Verification:
    index: str | None  # only the blobs this index refers to; None: every blob
    total_bytes: int = 0
    checked: int = 0
    bad: list[BadBlob] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # this host's bad copies, replaced by the object store's


def _blob_names(maintenance: CatalogMaintenance, index: str | None) -> Iterator[str]:
    after = ""
    while names := maintenance.next_blobs(index, after):
        yield from names
        after = names[-1]


def plan_verification(storage: Storage, index: str | None) -> Verification:
    """What there is to read (for a progress bar): one pass over the catalog, a stat per blob."""
    plan = Verification(index)
    for sha256 in _blob_names(CatalogMaintenance(storage.catalog.engine), index):
        with contextlib.suppress(FileNotFoundError, ValueError):
            plan.total_bytes += storage.blobs.path_for(sha256).stat().st_size
    return plan


def verify_blobs(storage: Storage, data_dir: Path, plan: Verification, progress: Callable[[int], None]) -> None:
    """Hash every blob; quarantine the bad ones (blocking). `progress` hears of the bytes read."""
    maintenance = CatalogMaintenance(storage.catalog.engine)
    for sha256 in _blob_names(maintenance, plan.index):
        try:
            problem, moved = _check(storage, data_dir, sha256, progress)
        except (OSError, ValueError) as error:
            plan.problems.append(f"cannot read stored file {sha256[:80]}: {error}")
            continue
        plan.checked += 1
        if problem is None or _kept_in_bucket(storage, sha256, problem, plan):
            continue
        uses = maintenance.drop_references(sha256)
        if not uses:
            continue  # evicted or deleted while we ran: nothing refers to it any more
        for index, project in sorted({(use.index, use.project) for use in uses}):
            page_changed(storage, index, project)
        plan.bad.append(BadBlob(sha256, problem, tuple(uses), moved))


def _kept_in_bucket(storage: Storage, sha256: str, problem: str, plan: Verification) -> bool:
    """With an object store, a host lacks most blobs, and a bad copy of its own is replaced by the bucket's (checked
    as it arrives): only a blob the bucket lacks too, or holds damaged, loses its references."""
    remote = storage.blobs.remote
    if remote is None:
        return False
    try:
        if problem == "missing":
            remote.size(sha256)
            return True
        if storage.blobs.fetch(sha256):
            plan.repaired.append(f"this host's copy of {sha256} was {problem}; the object store's copy replaced it")
            return True
    except (ObjectMissing, DigestMismatch):
        pass
    return False


def _check(
    storage: Storage, data_dir: Path, sha256: str, progress: Callable[[int], None]
) -> tuple[str | None, Path | None]:
    """(None, None) for a good blob, else the problem and where the bad bytes went."""
    path = storage.blobs.path_for(sha256)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return "missing", None
    try:
        digest = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
            progress(len(chunk))
        if digest.hexdigest() == sha256:
            return None, None
        moved = _quarantine(path, fd, data_dir / "quarantine", sha256)
        # Not moved: the name no longer leads to these bytes (deleted, or fetched again): nothing bad is served.
        return ("corrupt", moved) if moved is not None else (None, None)
    finally:
        os.close(fd)


def _quarantine(path: Path, fd: int, directory: Path, sha256: str) -> Path | None:
    """Move the bad file aside, unless the name now holds another file (fetched again meanwhile: good bytes)."""
    if not same_file(fd, path):
        return None
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / sha256
    number = 1
    while target.exists():
        number += 1
        target = directory / f"{sha256}.{number}"
    os.replace(path, target)
    return target
