"""Catalog queries for keeping the store in shape: refresh, eviction, garbage collection, verification, statistics.

Kept apart from the catalog proper, which serves requests. Synchronous (SQLAlchemy Core), one transaction per
method; large sets are read in batches and never held as one value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import Engine, bindparam, delete, exists, func, select, update

from rennet.storage.schema import files, projects, versions
from rennet.storage.search import forget_projects

__all__ = ["BlobUse", "CatalogMaintenance", "HeldFile", "IndexCounts"]

_BATCH = 500  # names per IN (...) list: well below SQLite's limit on bound parameters
# The columns of a file row that name a blob: the file, its .metadata, its provenance.
_BLOB_COLUMNS = (files.c.blob_sha256, files.c.metadata_sha256, files.c.provenance_sha256)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HeldFile:
    """A file whose bytes an index holds, as eviction sees it."""

    id: int
    project_id: int
    project: str
    filename: str
    sha256: str
    size: int
    used_at: float


@dataclass(frozen=True, slots=True)
class BlobUse:
    """A catalog row that refers to a blob, as the file itself, as its .metadata or as its provenance."""

    index: str
    project: str
    filename: str
    metadata: bool
    provenance: bool = False


@dataclass(frozen=True, slots=True)
class IndexCounts:
    projects: int
    files: int
    held_files: int
    held_bytes: int
    gone_files: int
    oldest_page: tuple[str, float] | None  # (project, when the upstream last confirmed it)


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


class CatalogMaintenance:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- access times ---------------------------------------------------------------------------------------------

    def touch_files(self, accessed: Mapping[tuple[str, str, str], float]) -> None:
        """Record when files were last sent: {(index, project, filename): time}, in one transaction."""
        if not accessed:
            return
        project_id = (
            select(projects.c.id)
            .where(projects.c.index_name == bindparam("i"), projects.c.name == bindparam("p"))
            .scalar_subquery()
        )
        statement = (
            update(files)
            .where(files.c.project_id == project_id, files.c.filename == bindparam("f"))
            .values(last_access=bindparam("t"))
        )
        rows = [{"i": i, "p": p, "f": f, "t": t} for (i, p, f), t in accessed.items()]
        with self.engine.begin() as conn:
            conn.execute(statement, rows)

    # -- refresh --------------------------------------------------------------------------------------------------

    def pages_confirmed_before(self, index: str, moment: float) -> list[str]:
        """Projects whose page the upstream last confirmed before `moment`, oldest first (not "no such project")."""
        query = (
            select(projects.c.name)
            .where(
                projects.c.index_name == index,
                projects.c.missing.is_(False),
                func.coalesce(projects.c.fetched_at, 0.0) < moment,
            )
            .order_by(func.coalesce(projects.c.fetched_at, 0.0), projects.c.name)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def prune_gone(self, index: str, project: str | None = None) -> list[tuple[str, str]]:
        """Remove the rows of files no longer listed upstream (of one project, or all); (project, filename) of
        each. Blobs stay for gc."""
        query = (
            select(files.c.id, files.c.project_id, projects.c.name, files.c.filename)
            .join(projects, files.c.project_id == projects.c.id)
            .where(projects.c.index_name == index, files.c.gone.is_(True))
            .order_by(projects.c.name, files.c.filename)
        )
        if project is not None:
            query = query.where(projects.c.name == project)
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
            for ids in _chunks([r.id for r in rows]):
                conn.execute(delete(files).where(files.c.id.in_(ids)))
            self._bump(conn, {r.project_id for r in rows})
        return [(r.name, r.filename) for r in rows]

    # -- "no such project" entries ---------------------------------------------------------------------------------

    def drop_missing(self, index: str, confirmed_before: float, dry_run: bool = False) -> int:
        """Forget the index's "no such project" entries confirmed before the moment that hold no files; how many.

        Any name a client asks for leaves one, so they would grow without bound. An entry older than the
        index's negative_ttl is no longer believed anyway: the next request for the name asks the upstream."""
        stale = (
            projects.c.index_name == index,
            projects.c.missing.is_(True),
            func.coalesce(projects.c.fetched_at, 0.0) < confirmed_before,
            ~exists().where(files.c.project_id == projects.c.id),
        )
        with self.engine.begin() as conn:
            ids = list(conn.execute(select(projects.c.id).where(*stale)).scalars())
            if dry_run:
                return len(ids)
            dropped = 0
            for chunk in _chunks(ids):
                # The conditions again: a server may have found the project since (SQLite's SELECT takes no lock).
                removed = conn.execute(
                    delete(projects).where(projects.c.id.in_(chunk), *stale).returning(projects.c.id)
                ).scalars()
                forgotten = list(removed)
                forget_projects(conn, forgotten)
                dropped += len(forgotten)
                gone = ~exists().where(projects.c.id == versions.c.project_id)
                conn.execute(delete(versions).where(versions.c.project_id.in_(chunk), gone))
        return dropped

    # -- eviction -------------------------------------------------------------------------------------------------

    def held_bytes(self, index: str) -> int:
        query = (
            select(func.coalesce(func.sum(files.c.size), 0))
            .join(projects, files.c.project_id == projects.c.id)
            .where(projects.c.index_name == index, files.c.blob_sha256.is_not(None))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def least_recently_used(self, index: str, excess: int) -> list[HeldFile]:
        """The least recently sent held files whose sizes add up to at least `excess` bytes, oldest first.

        Files without an upstream URL (seeded from an exported tree) and files gone upstream are left out: once
        evicted, nothing could bring them back."""
        used_at = func.coalesce(files.c.last_access, files.c.cached_at, files.c.created_at)
        query = (
            select(files.c.id, files.c.project_id, projects.c.name, files.c.filename, files.c.blob_sha256)
            .add_columns(func.coalesce(files.c.size, 0).label("size"), used_at.label("used_at"))
            .join(projects, files.c.project_id == projects.c.id)
            .where(
                projects.c.index_name == index,
                files.c.blob_sha256.is_not(None),
                files.c.source_url.is_not(None),
                files.c.gone.is_(False),
            )
            .order_by(used_at, files.c.id)
        )
        chosen: list[HeldFile] = []
        total = 0
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=_BATCH).execute(query):
                if total >= excess:
                    break
                chosen.append(
                    HeldFile(row.id, row.project_id, row.name, row.filename, row.blob_sha256, row.size, row.used_at)
                )
                total += row.size
        return chosen

    def clear_blobs(self, chosen: Iterable[HeldFile]) -> list[HeldFile]:
        """Forget the bytes of these files (the next request fetches them again); those that still had them."""
        cleared: list[HeldFile] = []
        with self.engine.begin() as conn:
            for file in chosen:
                # Only if the row still names these bytes: a refresh may have changed it meanwhile.
                result = conn.execute(
                    update(files)
                    .where(files.c.id == file.id, files.c.blob_sha256 == file.sha256)
                    .values(blob_sha256=None, cached_at=None)
                )
                if result.rowcount:
                    cleared.append(file)
            self._bump(conn, {f.project_id for f in cleared})
        return cleared

    # -- references -----------------------------------------------------------------------------------------------

    def referenced(self, sha256s: Iterable[str]) -> set[str]:
        """Which of these blobs a file row, a .metadata or a provenance refers to."""
        wanted = sorted(set(sha256s))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                for column in _BLOB_COLUMNS:
                    found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
        return found

    def next_blobs(self, index: str | None, after: str, limit: int = _BATCH) -> list[str]:
        """The next blobs the catalog refers to (of one index, or all), in order of name after `after`.

        Pages through the whole store without holding it: each column is read by an index range scan."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for column in _BLOB_COLUMNS:
                query = select(column).distinct().where(column > after).order_by(column).limit(limit)
                if index is not None:
                    query = query.join(projects, files.c.project_id == projects.c.id).where(
                        projects.c.index_name == index
                    )
                found.update(conn.execute(query).scalars())
        return sorted(found)[:limit]

    def drop_references(self, sha256: str) -> list[BlobUse]:
        """Every row, in any index, stops referring to this blob (bad bytes); the rows that did."""
        query = select(
            files.c.project_id, projects.c.index_name, projects.c.name, files.c.filename, files.c.blob_sha256
        ).join(projects, files.c.project_id == projects.c.id)
        with self.engine.begin() as conn:
            as_file = conn.execute(query.where(files.c.blob_sha256 == sha256)).all()
            as_metadata = conn.execute(query.where(files.c.metadata_sha256 == sha256)).all()
            as_provenance = conn.execute(query.where(files.c.provenance_sha256 == sha256)).all()
            conn.execute(update(files).where(files.c.blob_sha256 == sha256).values(blob_sha256=None, cached_at=None))
            conn.execute(update(files).where(files.c.metadata_sha256 == sha256).values(metadata_sha256=None))
            conn.execute(update(files).where(files.c.provenance_sha256 == sha256).values(provenance_sha256=None))
            self._bump(conn, {r.project_id for r in [*as_file, *as_metadata, *as_provenance]})
        return (
            [BlobUse(r.index_name, r.name, r.filename, False) for r in as_file]
            + [BlobUse(r.index_name, r.name, r.filename, True) for r in as_metadata]
            + [BlobUse(r.index_name, r.name, r.filename, False, True) for r in as_provenance]
        )

    # -- statistics -----------------------------------------------------------------------------------------------

    def index_counts(self) -> dict[str, IndexCounts]:
        """Projects, files, held files and bytes, and the least recently confirmed page, per index."""
        held = files.c.blob_sha256.is_not(None)
        per_index: Any = (
            select(
                projects.c.index_name,
                func.count(files.c.id),
                func.count(files.c.blob_sha256),
                func.coalesce(func.sum(files.c.size).filter(held), 0),
                func.count(files.c.id).filter(files.c.gone.is_(True)),
            )
            .join(projects, files.c.project_id == projects.c.id)
            .group_by(projects.c.index_name)
        )
        project_counts = (
            select(projects.c.index_name, func.count(), func.min(projects.c.fetched_at))
            .where(projects.c.missing.is_(False))
            .group_by(projects.c.index_name)
        )
        with self.engine.connect() as conn:
            file_rows = {row[0]: row[1:] for row in conn.execute(per_index)}
            result: dict[str, IndexCounts] = {}
            for name, count, oldest in conn.execute(project_counts):
                total, held_count, held_size, gone = file_rows.get(name, (0, 0, 0, 0))
                result[name] = IndexCounts(count, total, held_count, int(held_size), gone, None)
                if oldest is not None:
                    project = conn.execute(
                        select(projects.c.name).where(
                            projects.c.index_name == name,
                            projects.c.missing.is_(False),
                            projects.c.fetched_at == oldest,
                        )
                    ).scalar()
                    if project is not None:
                        result[name] = replace(result[name], oldest_page=(project, oldest))
        return result

    def _bump(self, conn: Any, project_ids: Iterable[int]) -> None:
        """A new serial for each page whose content changed: cached renderings are not reused."""
        for ids in _chunks(sorted(project_ids)):
            conn.execute(update(projects).where(projects.c.id.in_(ids)).values(serial=projects.c.serial + 1))
