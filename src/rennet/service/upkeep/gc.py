"""Garbage collection (`rennet gc`): blobs nothing refers to, stale temporary files, bounded caches, and expired
"no such project" entries.

Safe while servers and tools run on the same data directory:
- a blob younger than the grace period is kept even when nothing refers to it yet: an upload or a download
  publishes its blob first and writes the catalog row after;
- a partial download is kept while its lock file is held (the downloading process holds it until it ends);
- lock files themselves are never removed: a process may be about to lock one, and they hold no bytes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rennet.domain.indexes import IndexConfig, ProxyIndex
from rennet.service.runtime.resources import Storage
from rennet.service.upkeep.eviction import Eviction, evict, remove_blob
from rennet.storage.blobs import is_sha256, lock_held, owned
from rennet.storage.maintenance import CatalogMaintenance
from rennet.storage.objectstore import ObjectMissing, ObjectStore, StoredObject

__all__ = ["Collection", "collect_garbage"]

_BATCH = 500


@dataclass(slots=True)
class Collection:
    dry_run: bool
    evictions: list[Eviction] = field(default_factory=list)
    orphans: int = 0  # blobs removed (or, in a dry run, that would be)
    orphan_bytes: int = 0
    young_orphans: int = 0  # unreferenced but within the grace period: kept
    temp_files: int = 0
    temp_bytes: int = 0
    missing_projects: int = 0  # expired "no such project" entries dropped (or that would be)
    bucket_orphans: int = 0  # objects of the object store removed (or that would be)
    bucket_orphan_bytes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        evicted = sum(e.bytes_freed for e in self.evictions)
        return self.orphan_bytes + self.bucket_orphan_bytes + self.temp_bytes + evicted


Progress = Callable[[int], None]  # blobs examined


def collect_garbage(
    storage: Storage,
    data_dir: Path,
    indexes: Mapping[str, IndexConfig],
    grace: float,
    dry_run: bool,
    progress: Progress,
) -> Collection:
    """Evict beyond every max_cache_size, then remove unreferenced blobs, stale temporary files and expired
    "no such project" entries (blocking)."""
    report = Collection(dry_run)
    maintenance = CatalogMaintenance(storage.catalog.engine)
    for index in indexes.values():
        if isinstance(index, ProxyIndex) and index.max_cache_size is not None:
            report.evictions.append(evict(storage, index.name, index.max_cache_size, dry_run))
        if isinstance(index, ProxyIndex):
            expired = time.time() - index.negative_ttl
            report.missing_projects += maintenance.drop_missing(index.name, expired, dry_run)
    cutoff = time.time() - grace
    _orphan_blobs(storage, cutoff, report, progress)
    if storage.blobs.remote is not None:
        _orphan_objects(storage.blobs.remote, maintenance, cutoff, report)
    _stale_temporaries(data_dir / "tmp", cutoff, report)
    return report


def _orphan_blobs(storage: Storage, cutoff: float, report: Collection, progress: Progress) -> None:
    maintenance = CatalogMaintenance(storage.catalog.engine)
    batch: list[Path] = []
    for path in _blob_paths(storage.blobs.root):
        batch.append(path)
        if len(batch) >= _BATCH:
            _collect_batch(storage, maintenance, batch, cutoff, report)
            progress(len(batch))
            batch = []
    _collect_batch(storage, maintenance, batch, cutoff, report)
    progress(len(batch))


def _blob_paths(root: Path) -> Iterator[Path]:
    """Every blob in the store (<root>/ab/cd/<sha256>), without holding the whole listing."""
    for first in sorted(os.scandir(root), key=lambda e: e.name) if root.is_dir() else ():
        if not first.is_dir():
            continue
        for second in os.scandir(first.path):
            if second.is_dir():
                for entry in os.scandir(second.path):
                    if entry.is_file() and is_sha256(entry.name):
                        yield Path(entry.path)


def _collect_batch(
    storage: Storage, maintenance: CatalogMaintenance, batch: list[Path], cutoff: float, report: Collection
) -> None:
    if not batch:
        return
    referenced = maintenance.referenced(path.name for path in batch)
    for path in batch:
        if path.name in referenced:
            continue
        try:
            status = path.stat()
        except FileNotFoundError:
            continue
        if status.st_mtime > cutoff:
            report.young_orphans += 1
            continue
        if report.dry_run:
            freed = status.st_size
        else:
            try:
                freed = remove_blob(storage.blobs, path.name) or 0  # never kept: no age limit
            except OSError as error:
                report.problems.append(f"cannot remove {path}: {error}")
                continue
        report.orphans += 1
        report.orphan_bytes += freed


def _orphan_objects(remote: ObjectStore, maintenance: CatalogMaintenance, cutoff: float, report: Collection) -> None:
    """Objects of the bucket nothing refers to, written before the cutoff: evicted, deleted or never recorded.
    Each is looked at again just before it goes: an upload of the same bytes rewrites it (a fresh time)."""
    batch: list[StoredObject] = []
    for stored in remote.objects():
        batch.append(stored)
        if len(batch) >= _BATCH:
            _collect_objects(remote, maintenance, batch, cutoff, report)
            batch = []
    _collect_objects(remote, maintenance, batch, cutoff, report)


def _collect_objects(
    remote: ObjectStore, maintenance: CatalogMaintenance, batch: list[StoredObject], cutoff: float, report: Collection
) -> None:
    referenced = maintenance.referenced(stored.sha256 for stored in batch) if batch else set()
    for stored in batch:
        if stored.sha256 in referenced:
            continue
        if stored.modified > cutoff:
            report.young_orphans += 1
            continue
        if not report.dry_run:
            try:
                if remote.modified(stored.sha256) > cutoff:
                    continue  # written again meanwhile: about to be referred to
            except ObjectMissing:
                continue
            remote.delete(stored.sha256)
        report.bucket_orphans += 1
        report.bucket_orphan_bytes += stored.size


def _stale_temporaries(temp: Path, cutoff: float, report: Collection) -> None:
    """Temporary files older than the cutoff that no process is writing."""
    if not temp.is_dir():
        return
    live = {directory for directory in temp.glob("process-*") if owned(directory)}
    for path in sorted(p for p in temp.rglob("*") if p.is_file() and p.suffix != ".lock"):
        try:
            status = path.stat()
        except FileNotFoundError:
            continue
        if status.st_mtime > cutoff or lock_held(path.with_suffix(".lock")) or path.parent in live:
            continue
        if not report.dry_run:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as error:
                report.problems.append(f"cannot remove {path}: {error}")
                continue
        report.temp_files += 1
        report.temp_bytes += status.st_size
