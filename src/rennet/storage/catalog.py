"""The catalog: projects, versions and files of every index, in the database.

Synchronous on purpose (SQLAlchemy Core); the async edges call it in a worker thread. Each method is one
transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    Table,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from rennet.domain.changes import PageChanges, diff_files
from rennet.domain.files import DistFile, ProjectPage, ProjectStatus
from rennet.domain.names import file_identity, same_version, version_or_none
from rennet.domain.search import Described, SearchHit, SearchQuery
from rennet.domain.validators import UpstreamValidators
from rennet.storage.schema import files, listings, projects, versions
from rennet.storage.search import find_projects, forget_projects, index_projects

if TYPE_CHECKING:  # packaging.metadata, for the JSON API only: not for every command that opens the catalog
    from rennet.domain.pypi_json import ReleaseFile

__all__ = [
    "Catalog",
    "DuplicateFile",
    "FileRecord",
    "HostedUpload",
    "ListingRecord",
    "ProjectRecord",
    "Upload",
]


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    id: int
    index_name: str
    name: str
    display_name: str
    status: ProjectStatus | None
    status_reason: str | None
    upstream_etag: str | None
    upstream_last_modified: str | None
    fetched_at: float | None
    missing: bool
    serial: int
    created_at: float
    summary: str | None = None

    @property
    def revision(self) -> tuple[float, int]:
        """Names the page's content; a project deleted and made again starts its serial anew."""
        return (self.created_at, self.serial)


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: int
    project_id: int
    index_name: str
    project: str
    filename: str
    source_url: str | None
    hashes: dict[str, str]
    size: int | None
    core_metadata: dict[str, str] | None
    metadata_sha256: str | None
    blob_sha256: str | None
    upload_time: float | None
    provenance: str | None = None  # the upstream's URL of the file's provenance
    provenance_sha256: str | None = None  # the provenance object held


@dataclass(frozen=True, slots=True)
class Upload:
    """Who uploaded which file of a hosted project, and when."""

    index_name: str
    project: str
    filename: str
    version: str | None
    uploaded_by: str
    upload_time: float | None


@dataclass(frozen=True, slots=True)
class HostedUpload:
    """A verified upload, ready to be listed."""

    filename: str
    version: str
    sha256: str
    md5: str
    blake2b_256: str
    size: int
    requires_python: str | None
    metadata_sha256: str | None
    uploaded_by: str
    upload_time: float
    summary: str | None = None  # from the file's metadata
    provenance_sha256: str | None = None  # the provenance object made of the upload's attestations


class DuplicateFile(Exception):
    """The project holds this file already (another upload won the race): the filename it holds it under (the
    same, or another spelling of the same release and tags) and its sha256."""

    def __init__(self, filename: str, sha256: str | None) -> None:
        super().__init__(filename, sha256)
        self.filename = filename
        self.sha256 = sha256


@dataclass(frozen=True, slots=True)
class ListingRecord:
    index_name: str
    upstream_etag: str | None
    upstream_last_modified: str | None
    fetched_at: float | None
    digest: str | None
    count: int


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))

    # -- projects ---------------------------------------------------------------------------------------------

    def project(self, index_name: str, name: str) -> ProjectRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(projects).where(projects.c.index_name == index_name, projects.c.name == name)
            ).first()
        return _project_record(row) if row else None

    def page(self, project: ProjectRecord, *, as_stated: bool = False, held_only: bool = False) -> ProjectPage:
        """The project's page as the catalog holds it. Files gone upstream are listed only while cached, and so
        are files with no upstream URL (seeded from an exported tree): until their bytes are recorded, nothing could
        serve them. `as_stated`: the files the upstream lists now, as it stated them (to add to its page).
        `held_only`: only files whose bytes are here (what an offline server can deliver)."""
        with self.engine.connect() as conn:
            file_rows = conn.execute(select(files).where(files.c.project_id == project.id).order_by(files.c.id)).all()
            version_rows = (
                conn.execute(select(versions.c.version).where(versions.c.project_id == project.id)).scalars().all()
            )
        if as_stated:
            listed = tuple(_upstream_view(row, project.index_name) for row in file_rows if not row.gone)
        else:
            listed = tuple(
                _dist_file(row, project.index_name)
                for row in file_rows
                if row.blob_sha256 or (not held_only and not row.gone and row.source_url is not None)
            )
        return ProjectPage(
            name=project.name,  # type: ignore[arg-type]
            files=listed,
            versions=tuple(version_rows),
            status=project.status,
            status_reason=project.status_reason,
        )

    def unheld_count(self, index_name: str, project: str) -> int:
        """How many files the index lists (online) whose bytes are not here."""
        unheld = (files.c.blob_sha256.is_(None), files.c.gone.is_(False), files.c.source_url.is_not(None))
        return self._count_files(index_name, project, *unheld)

    def held_count(self, index_name: str, project: str) -> int:
        """How many of the project's files have their bytes here."""
        return self._count_files(index_name, project, files.c.blob_sha256.is_not(None))

    def held_filenames(self, index_name: str, project: str) -> set[str]:
        """The names of the project's files whose bytes are here, in one query (a project may have thousands)."""
        query = (
            select(files.c.filename)
            .join(projects, files.c.project_id == projects.c.id)
            .where(projects.c.index_name == index_name, projects.c.name == project, files.c.blob_sha256.is_not(None))
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def _count_files(self, index_name: str, project: str, *conditions: Any) -> int:
        query = (
            select(func.count())
            .select_from(files.join(projects, files.c.project_id == projects.c.id))
            .where(projects.c.index_name == index_name, projects.c.name == project, *conditions)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def project_names(self, index_name: str, held_only: bool = False) -> list[str]:
        """Display names of the projects an index holds (not those the upstream said it lacks); with `held_only`,
        of those it holds the bytes of at least one file of (what an offline server can deliver)."""
        query = select(projects.c.display_name).where(
            projects.c.index_name == index_name, projects.c.missing.is_(False)
        )
        if held_only:
            held = select(files.c.id).where(files.c.project_id == projects.c.id, files.c.blob_sha256.is_not(None))
            query = query.where(held.exists())
        with self.engine.connect() as conn:
            return list(conn.execute(query.order_by(projects.c.name)).scalars())

    def projects_after(self, index_name: str, after: str, limit: int) -> list[SearchHit]:
        """A page of the index's projects (not those the upstream lacks) in name order: the first `limit` whose
        normalized name sorts after `after` ("" for the first page)."""
        query = (
            select(projects.c.index_name, projects.c.name, projects.c.display_name, projects.c.summary)
            .where(projects.c.index_name == index_name, projects.c.missing.is_(False), projects.c.name > after)
            .order_by(projects.c.name)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [SearchHit(*row) for row in conn.execute(query)]

    def store_upstream_page(
        self,
        index_name: str,
        display_name: str,
        page: ProjectPage,
        validators: UpstreamValidators,
        fetched_at: float,
    ) -> tuple[ProjectRecord, PageChanges]:
        """Save a freshly fetched upstream page, keeping what only we know (sizes, cached blobs, metadata)."""
        with self.engine.begin() as conn:
            current, created = self._upsert_project(conn, index_name, page.name, display_name, fetched_at)
            project_id = current.id
            # A project this transaction made has no rows yet: nothing to read (a cold page's store, made short).
            old_rows = (
                {}
                if created
                else {
                    row.filename: row
                    for row in conn.execute(select(files).where(files.c.project_id == project_id)).all()
                }
            )
            known = {name: _upstream_view(row, index_name) for name, row in old_rows.items()}
            old = {name: file for name, file in known.items() if not old_rows[name].gone}
            # Gone files count as known too: what we learned holding their bytes is still true when they return.
            new = {f.filename: _keep_known(f, known.get(f.filename)) for f in page.files}
            changes = diff_files(old, new)
            changes.first = created
            # When rennet first listed the file, by the clock that reads it (see domain/policy.py, MinAge).
            inserts = [
                _file_values(f) | {"project_id": project_id, "created_at": fetched_at}
                for f in new.values()
                if f.filename not in old_rows
            ]
            if inserts:
                conn.execute(insert(files), inserts)
            for filename, file in new.items():
                row = old_rows.get(filename)
                if row is not None and (row.gone or filename in changes.updated + changes.yanked + changes.unyanked):
                    file_values = _file_values(file)
                    if _replaced(known[filename], file, row.blob_sha256):
                        # Same name, other bytes: what we hold would fail every client's hash check.
                        file_values |= {
                            "blob_sha256": None,
                            "metadata_sha256": None,
                            "cached_at": None,
                            "provenance_sha256": None,
                        }
                    elif file.provenance != row.provenance:
                        file_values |= {"provenance_sha256": None}  # the upstream names another provenance
                    conn.execute(update(files).where(files.c.id == row.id).values(file_values))
            if changes.gone:
                conn.execute(
                    update(files)
                    .where(files.c.project_id == project_id, files.c.filename.in_(changes.gone))
                    .values(gone=True)
                )
            changes.meta_changed = self._store_versions(conn, project_id, page.versions, created)
            status = page.status.value if page.status else None
            if (current.status, current.status_reason) != (status, page.status_reason) or current.missing:
                changes.meta_changed = True
            values: dict[str, Any] = {
                "display_name": display_name,
                "status": status,
                "status_reason": page.status_reason,
                "upstream_etag": validators.etag,
                "upstream_last_modified": validators.last_modified,
                "fetched_at": fetched_at,
                "missing": False,
            }
            if changes:
                values["serial"] = current.serial + 1
            stored = conn.execute(
                update(projects).where(projects.c.id == project_id).values(values).returning(*projects.c)
            )
            record = _project_record(stored.one())
        return record, changes

    def store_missing(self, index_name: str, name: str, fetched_at: float) -> ProjectRecord:
        """Remember that the upstream has no such project (a negative cache entry)."""
        with self.engine.begin() as conn:
            project_id = self._upsert_project(conn, index_name, name, name, fetched_at)[0].id
            conn.execute(
                update(projects)
                .where(projects.c.id == project_id)
                .values(missing=True, fetched_at=fetched_at, upstream_etag=None, upstream_last_modified=None)
            )
            return _project_record(conn.execute(select(projects).where(projects.c.id == project_id)).one())

    def touch_project(self, project_id: int, fetched_at: float, validators: UpstreamValidators) -> None:
        """The upstream confirmed the page unchanged (304)."""
        values: dict[str, Any] = {"fetched_at": fetched_at}
        if validators.etag:
            values["upstream_etag"] = validators.etag
        if validators.last_modified:
            values["upstream_last_modified"] = validators.last_modified
        with self.engine.begin() as conn:
            conn.execute(update(projects).where(projects.c.id == project_id).values(values))

    def _upsert_project(
        self, conn: Connection, index_name: str, name: str, display: str, now: float
    ) -> tuple[Row[Any], bool]:
        """The project's row, made if need be and held by this transaction (see _lock_project), and whether this
        transaction made it."""
        project_id, created = self._ensure_project(conn, index_name, name, display, now)
        row = _lock_project(conn, project_id)
        if row is None:
            # `rennet gc` dropped the row (an expired "no such project" entry) since it was read: made again,
            # now that this transaction holds the lock.
            project_id, created = self._ensure_project(conn, index_name, name, display, now)
            row = _lock_project(conn, project_id)
            assert row is not None, "a row made in this transaction is there"
        return row, created

    def _ensure_project(
        self, conn: Connection, index_name: str, name: str, display: str, now: float
    ) -> tuple[int, bool]:
        """The project's id, and whether this call created it; safe against other writers doing the same."""
        where = (projects.c.index_name == index_name, projects.c.name == name)
        existing = conn.execute(select(projects.c.id).where(*where)).scalar()
        if existing is not None:
            return int(existing), False
        values = {
            "index_name": index_name,
            "name": name,
            "display_name": display,
            "missing": False,
            "serial": 0,
            "created_at": now,
        }
        created = _insert_unless_present(conn, projects, values, ("index_name", "name"))
        project_id = int(conn.execute(select(projects.c.id).where(*where)).scalar_one())
        if created:
            index_projects(conn, [(project_id, name, None)])
        return project_id, created

    def _store_versions(self, conn: Connection, project_id: int, wanted: Iterable[str], created: bool) -> bool:
        wanted_set = set(wanted)
        query = select(versions.c.version).where(versions.c.project_id == project_id)
        held = set() if created else set(conn.execute(query).scalars())
        added, removed = wanted_set - held, held - wanted_set
        if added:
            conn.execute(insert(versions), [{"project_id": project_id, "version": v} for v in sorted(added)])
        if removed:
            conn.execute(delete(versions).where(versions.c.project_id == project_id, versions.c.version.in_(removed)))
        return bool(added or removed)

    # -- files --------------------------------------------------------------------------------------------------

    def file(self, index_name: str, project: str, filename: str) -> FileRecord | None:
        query = (
            select(files, projects.c.index_name, projects.c.name.label("project_name"))
            .join(projects, files.c.project_id == projects.c.id)
            .where(projects.c.index_name == index_name, projects.c.name == project, files.c.filename == filename)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return FileRecord(
            id=row.id,
            project_id=row.project_id,
            index_name=row.index_name,
            project=row.project_name,
            filename=row.filename,
            source_url=row.source_url,
            hashes=json.loads(row.hashes),
            size=row.size,
            core_metadata=json.loads(row.core_metadata) if row.core_metadata is not None else None,
            metadata_sha256=row.metadata_sha256,
            blob_sha256=row.blob_sha256,
            upload_time=row.upload_time,
            provenance=row.provenance,
            provenance_sha256=row.provenance_sha256,
        )

    def record_blob(self, file: FileRecord, sha256: str, size: int, upload_time: float | None) -> None:
        """The file's bytes are now held and verified: fill what the upstream page may have left out."""
        values: dict[str, Any] = {"blob_sha256": sha256, "size": size, "cached_at": time.time()}
        if file.upload_time is None and upload_time is not None:
            values["upload_time"] = upload_time
        with self.engine.begin() as conn:
            conn.execute(update(files).where(files.c.id == file.id).values(values))
            self._bump(conn, file.project_id)

    def record_provenance(self, file: FileRecord, sha256: str) -> None:
        """The file's provenance is held from now on. Its page does not change (it named the provenance already),
        so no serial is bumped; unless the upstream meanwhile named another provenance for the file."""
        with self.engine.begin() as conn:
            conn.execute(
                update(files)
                .where(files.c.id == file.id, files.c.provenance.is_not_distinct_from(file.provenance))
                .values(provenance_sha256=sha256)
            )

    def record_metadata(self, file: FileRecord, sha256: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(files).where(files.c.id == file.id).values(metadata_sha256=sha256))
            self._bump(conn, file.project_id)

    # -- hosted projects ------------------------------------------------------------------------------------------

    def release_files(
        self, index_name: str, project: str, filename: str, identity: str | None
    ) -> dict[str, tuple[str | None, str | None]]:
        """Filename -> (sha256, identity) of what an upload of `filename` is checked against: the file of that
        name and the files with its identity (the same release and tags, spelled otherwise). A project may hold
        thousands of wheels; a new wheel need not read them all."""
        query = (
            select(files.c.filename, files.c.blob_sha256, files.c.identity)
            .join(projects, files.c.project_id == projects.c.id)
            .where(projects.c.index_name == index_name, projects.c.name == project, _same_file(filename, identity))
        )
        with self.engine.connect() as conn:
            return {row.filename: (row.blob_sha256, row.identity) for row in conn.execute(query)}

    def add_hosted_file(self, index_name: str, project: str, display_name: str, upload: HostedUpload) -> bool:
        """List an uploaded file; True when the project is new. Raises DuplicateFile if the name is taken."""
        # Uploads run concurrently (threads of a worker, several workers): CI jobs send the wheels of a new
        # release at once. Each row is inserted unless present, so that rivals neither fail on a unique
        # constraint (a 500) nor both believe they won.
        identity = file_identity(upload.filename)
        with self.engine.begin() as conn:
            # Created now, whatever upload time an import keeps: a project made again must differ in revision.
            project_id, created = self._ensure_project(conn, index_name, project, display_name, time.time())
            values = {
                "project_id": project_id,
                "filename": upload.filename,
                "version": upload.version,
                "hashes": json.dumps({"sha256": upload.sha256}),
                "requires_python": upload.requires_python,
                "yanked": False,
                "size": upload.size,
                "upload_time": upload.upload_time,
                "metadata_sha256": upload.metadata_sha256,
                "provenance_sha256": upload.provenance_sha256,
                "blob_sha256": upload.sha256,
                "cached_at": upload.upload_time,
                "gone": False,
                "created_at": upload.upload_time,
                "md5": upload.md5,
                "blake2b_256": upload.blake2b_256,
                "uploaded_by": upload.uploaded_by,
                "identity": identity,
            }
            if not _insert_unless_present(conn, files, values, None):
                # The filename is taken, or (another spelling of) the same release and tags: the database refused
                # the row atomically, whatever other writers did meanwhile.
                taken = conn.execute(
                    select(files.c.filename, files.c.blob_sha256)
                    .where(files.c.project_id == project_id, _same_file(upload.filename, identity))
                    .order_by(files.c.filename != upload.filename)
                ).first()
                assert taken is not None
                raise DuplicateFile(taken.filename, taken.blob_sha256)
            version = {"project_id": project_id, "version": upload.version}
            _insert_unless_present(conn, versions, version, ("project_id", "version"))
            self._bump(conn, project_id)
            if self._is_latest(conn, project_id, upload.version):
                _describe(conn, project_id, project, upload.summary, upload.version)
        return created

    def _is_latest(self, conn: Connection, project_id: int, version: str) -> bool:
        """Whether no release of the project is newer than `version` (whose summary then describes it)."""
        parsed = version_or_none(version)
        if parsed is None:
            return False
        held = conn.execute(select(versions.c.version).where(versions.c.project_id == project_id)).scalars()
        return all(other is None or other <= parsed for other in map(version_or_none, held))

    def learn_summary(self, index_name: str, project: str, described: Described) -> bool:
        """Record a proxy project's summary, unless the catalog knows one of a newer release already (clients
        fetch old releases too); True when it changed. Reads first, and writes (a write lock) only what is new."""
        with self.engine.connect() as conn:
            row = conn.execute(_summary_of(index_name, project)).first()
        if row is None or not _newer(described, row.summary_version, row.summary):
            return False
        with self.engine.begin() as conn:
            row = conn.execute(_summary_of(index_name, project)).first()
            # The row as locked: another writer may have been first.
            locked = _lock_project(conn, row.id) if row is not None else None
            if locked is None or not _newer(described, locked.summary_version, locked.summary):
                return False
            _describe(conn, locked.id, project, described.summary, described.version)
        return True

    def search(self, query: SearchQuery, indexes: Iterable[str], limit: int) -> list[SearchHit]:
        """The projects of `indexes` that match the query, best first (see domain/search.py)."""
        with self.engine.connect() as conn:
            return find_projects(conn, query, list(indexes), limit)

    def set_yanked(
        self, index_name: str, project: str, filenames: Iterable[str], yanked: bool, reason: str | None
    ) -> list[str]:
        """Yank (PEP 592) or unyank files; returns the filenames that changed."""
        wanted = list(filenames)
        with self.engine.begin() as conn:
            project_id = self._project_id(conn, index_name, project)
            rows = conn.execute(
                select(files.c.id, files.c.filename, files.c.yanked, files.c.yanked_reason).where(
                    files.c.project_id == project_id, files.c.filename.in_(wanted)
                )
            ).all()
            changed = [r for r in rows if bool(r.yanked) != yanked or (yanked and r.yanked_reason != reason)]
            if changed:
                conn.execute(
                    update(files)
                    .where(files.c.id.in_([r.id for r in changed]))
                    .values(yanked=yanked, yanked_reason=reason if yanked else None)
                )
                self._bump(conn, project_id)
        return [r.filename for r in changed]

    def delete_files(self, index_name: str, project: str, filenames: Iterable[str]) -> list[str]:
        """Remove files from the index (blobs stay until garbage collection); returns those removed."""
        wanted = list(filenames)
        with self.engine.begin() as conn:
            project_id = self._project_id(conn, index_name, project)
            removed = list(
                conn.execute(
                    select(files.c.filename).where(files.c.project_id == project_id, files.c.filename.in_(wanted))
                ).scalars()
            )
            if removed:
                conn.execute(delete(files).where(files.c.project_id == project_id, files.c.filename.in_(removed)))
                still_used = select(files.c.version).where(files.c.project_id == project_id)
                conn.execute(
                    delete(versions).where(versions.c.project_id == project_id, versions.c.version.not_in(still_used))
                )
                self._bump(conn, project_id)
        return removed

    def set_status(self, index_name: str, project: str, status: ProjectStatus, reason: str | None) -> None:
        """Set a PEP 792 project status."""
        with self.engine.begin() as conn:
            project_id = self._project_id(conn, index_name, project)
            conn.execute(
                update(projects)
                .where(projects.c.id == project_id)
                .values(status=status.value, status_reason=reason, serial=projects.c.serial + 1)
            )

    def files_of(self, index_name: str, project: str, version: str | None) -> list[str]:
        """Filenames of a project, or of one release of it (compared as normalized versions)."""
        query = (
            select(files.c.filename, files.c.version)
            .join(projects, files.c.project_id == projects.c.id)
            .where(projects.c.index_name == index_name, projects.c.name == project)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if version is None:
            return [r.filename for r in rows]
        return [r.filename for r in rows if r.version is not None and same_version(r.version, version)]

    def release_details(self, index_name: str, project: str, version: str | None = None) -> list[ReleaseFile]:
        """Every file of a hosted project with what PyPI's JSON API reports about it; with `version`, the files
        recorded under exactly that version if there are any (a project may have thousands of files), else all."""
        query = (
            select(files)
            .join(projects, files.c.project_id == projects.c.id)
            .where(projects.c.index_name == index_name, projects.c.name == project)
            .order_by(files.c.filename)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.where(files.c.version == version)).all() if version is not None else []
            if not rows:  # no version asked, or spelled otherwise (1.0 for 1.0.0): the caller compares them all
                rows = conn.execute(query).all()
        from rennet.domain.pypi_json import ReleaseFile

        return [
            ReleaseFile(_dist_file(row, index_name), row.version or "", row.md5, row.blake2b_256, row.metadata_sha256)
            for row in rows
            if not row.gone or row.blob_sha256
        ]

    def uploaders(self, index_name: str, project: str, filenames: Collection[str]) -> dict[str, str]:
        """Filename -> who uploaded it, for these files of a hosted project (those that say so)."""
        query = (
            select(files.c.filename, files.c.uploaded_by)
            .join(projects, files.c.project_id == projects.c.id)
            .where(
                projects.c.index_name == index_name,
                projects.c.name == project,
                files.c.filename.in_(list(filenames)),
                files.c.uploaded_by.is_not(None),
            )
        )
        with self.engine.connect() as conn:
            return {row.filename: row.uploaded_by for row in conn.execute(query)}

    def recent_uploads(self, indexes: Iterable[str], limit: int) -> list[Upload]:
        """The latest uploads to hosted indexes, newest first."""
        query = (
            select(
                projects.c.index_name,
                projects.c.name,
                files.c.filename,
                files.c.version,
                files.c.uploaded_by,
                files.c.upload_time,
            )
            .join(projects, files.c.project_id == projects.c.id)
            .where(projects.c.index_name.in_(list(indexes)), files.c.uploaded_by.is_not(None))
            .order_by(files.c.upload_time.desc(), files.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Upload(*row) for row in conn.execute(query)]

    def delete_project(self, index_name: str, project: str) -> list[str]:
        """Remove a project with all its files (blobs stay until garbage collection); returns the filenames."""
        with self.engine.begin() as conn:
            project_id = self._project_id(conn, index_name, project)
            removed = list(conn.execute(select(files.c.filename).where(files.c.project_id == project_id)).scalars())
            conn.execute(delete(files).where(files.c.project_id == project_id))
            conn.execute(delete(versions).where(versions.c.project_id == project_id))
            conn.execute(delete(projects).where(projects.c.id == project_id))
            forget_projects(conn, [project_id])
        return removed

    def _project_id(self, conn: Connection, index_name: str, project: str) -> int:
        found = conn.execute(
            select(projects.c.id).where(projects.c.index_name == index_name, projects.c.name == project)
        ).scalar()
        if found is None:
            raise LookupError(f"there is no project {project!r} in {index_name}")
        return int(found)

    def _bump(self, conn: Connection, project_id: int) -> None:
        conn.execute(update(projects).where(projects.c.id == project_id).values(serial=projects.c.serial + 1))

    # -- project lists ------------------------------------------------------------------------------------------

    def listing(self, index_name: str) -> ListingRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(listings).where(listings.c.index_name == index_name)).first()
        return ListingRecord(**row._asdict()) if row else None

    def store_listing(self, record: ListingRecord) -> None:
        with self.engine.begin() as conn:
            values = asdict(record)
            existing = conn.execute(
                select(listings.c.index_name).where(listings.c.index_name == record.index_name)
            ).first()
            if existing:
                conn.execute(update(listings).where(listings.c.index_name == record.index_name).values(values))
            else:
                conn.execute(insert(listings).values(values))


def _lock_project(conn: Connection, project_id: int) -> Row[Any] | None:
    """Hold the project's row until the transaction ends, so that its rows are read and written by one writer;
    the row as it is, None when there is no such row (any more).

    Two workers (or `rennet refresh` beside a server) may refresh one page at once; each reads the rows it holds
    and writes the difference. Without the lock both would insert the same new file (a unique-constraint error,
    a 500) and both report and count the same change. A write to the row takes SQLite's write lock and
    PostgreSQL's row lock (SQLite ignores SELECT ... FOR UPDATE); the rival then reads what this writer stored.
    """
    held = conn.execute(
        update(projects).where(projects.c.id == project_id).values(serial=projects.c.serial).returning(*projects.c)
    )
    return held.first()


def _describe(conn: Connection, project_id: int, name: str, summary: str | None, version: str) -> None:
    """Set the project's summary (of release `version`), and what the search index holds of it, in the caller's
    transaction."""
    values = {"summary": summary, "summary_version": version}
    conn.execute(update(projects).where(projects.c.id == project_id).values(values))
    index_projects(conn, [(project_id, name, summary)])


def _summary_of(index_name: str, project: str) -> Select[Any]:
    where = (projects.c.index_name == index_name, projects.c.name == project)
    return select(projects.c.id, projects.c.summary, projects.c.summary_version).where(*where)


def _newer(described: Described, known_version: str | None, known_summary: str | None) -> bool:
    """Whether `described` should replace what the catalog knows: it describes a release at least as new (a
    summary of unknown release yields to any), and says something else."""
    if (described.version, described.summary) == (known_version, known_summary):
        return False
    known = version_or_none(known_version) if known_version is not None else None
    new = version_or_none(described.version)
    return known is None or (new is not None and new >= known)


def _insert_unless_present(
    conn: Connection, table: Table, values: dict[str, Any], keys: tuple[str, ...] | None
) -> bool:
    """Insert a row unless one with the same unique `keys` (None: any unique key of the table) exists; True when
    this call inserted it.

    One statement (INSERT ... ON CONFLICT DO NOTHING), so the database decides atomically: a SELECT first and an
    INSERT after would let two writers both see nothing, and the second fail on the unique constraint.
    Whether a row was inserted is read from RETURNING, not from the cursor's rowcount: psycopg 3 reports -1 for
    this statement, which once made every upload look like a duplicate and silently dropped it.
    """
    statement: Any
    if conn.dialect.name == "sqlite":
        statement = sqlite_insert(table).values(values).on_conflict_do_nothing(index_elements=_columns(keys))
    elif conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        statement = postgresql_insert(table).values(values).on_conflict_do_nothing(index_elements=_columns(keys))
    else:  # no portable upsert: a savepoint keeps the failed insert from spoiling the transaction
        try:
            with conn.begin_nested():
                conn.execute(insert(table).values(values))
        except IntegrityError:
            return False
        return True
    inserted = conn.execute(statement.returning(*table.primary_key.columns)).first()
    return inserted is not None


def _same_file(filename: str, identity: str | None) -> ColumnElement[bool]:
    """Rows of `filename`, or of another spelling of the same release and tags."""
    same = files.c.filename == filename
    return same if identity is None else or_(same, files.c.identity == identity)


def _columns(keys: tuple[str, ...] | None) -> list[str] | None:
    return list(keys) if keys is not None else None


def _project_record(row: Row[Any]) -> ProjectRecord:
    return ProjectRecord(
        id=row.id,
        index_name=row.index_name,
        name=row.name,
        display_name=row.display_name,
        status=ProjectStatus(row.status) if row.status else None,
        status_reason=row.status_reason,
        upstream_etag=row.upstream_etag,
        upstream_last_modified=row.upstream_last_modified,
        fetched_at=row.fetched_at,
        missing=bool(row.missing),
        serial=row.serial,
        created_at=row.created_at,
        summary=row.summary,
    )


def _dist_file(row: Row[Any], index_name: str) -> DistFile:
    """The file as we list it: what the upstream said, completed by what we learned holding the bytes."""
    return _file_from_row(row, index_name, completed=True)


def _upstream_view(row: Row[Any], index_name: str) -> DistFile:
    """The file as its index states it, without what we derived."""
    return _file_from_row(row, index_name, completed=False)


def _file_from_row(row: Row[Any], index_name: str, completed: bool) -> DistFile:
    # Built once, with its final fields: a page of thousands of files is read with one call per file.
    hashes = json.loads(row.hashes)
    core_metadata = json.loads(row.core_metadata) if row.core_metadata is not None else None
    if completed:
        if row.blob_sha256 and "sha256" not in hashes:
            hashes["sha256"] = row.blob_sha256
        if row.metadata_sha256 and not core_metadata and row.filename.endswith(".whl"):
            # PEP 658 metadata is served for wheels only (an sdist's PKG-INFO may be incomplete).
            core_metadata = {"sha256": row.metadata_sha256}
    return DistFile(
        filename=row.filename,
        index=index_name,
        hashes=hashes,
        requires_python=row.requires_python,
        yanked=bool(row.yanked),
        yanked_reason=row.yanked_reason,
        size=row.size,
        upload_time=datetime.fromtimestamp(row.upload_time, UTC) if row.upload_time is not None else None,
        core_metadata=core_metadata,
        provenance=row.provenance,
        provenance_sha256=row.provenance_sha256 if completed else None,
        source_url=row.source_url,
        first_seen=datetime.fromtimestamp(row.created_at, UTC) if completed else None,
    )


def _keep_known(new: DistFile, old: DistFile | None) -> DistFile:
    """Fields the upstream leaves out but we learned by fetching the file stay as we know them."""
    if old is None or _hashes_differ(old.hashes, new.hashes):
        return new
    return replace(
        new,
        size=new.size if new.size is not None else old.size,
        upload_time=new.upload_time or old.upload_time,
    )


def _hashes_differ(old: Mapping[str, str], new: Mapping[str, str]) -> bool:
    return any(old[name].lower() != value.lower() for name, value in new.items() if name in old)


def _replaced(old: DistFile, new: DistFile, blob_sha256: str | None) -> bool:
    """Whether the upstream now describes other bytes under the same filename."""
    if _hashes_differ(old.hashes, new.hashes):
        return True
    return bool(blob_sha256 and new.sha256 and new.sha256.lower() != blob_sha256)


def _file_values(file: DistFile) -> dict[str, Any]:
    version = file.version
    return {
        "filename": file.filename,
        "version": str(version) if version else None,
        "source_url": file.source_url,
        "hashes": json.dumps(dict(file.hashes), sort_keys=True),
        "requires_python": file.requires_python,
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason,
        "size": file.size,
        "upload_time": file.upload_time.timestamp() if file.upload_time else None,
        "core_metadata": None if file.core_metadata is None else json.dumps(dict(file.core_metadata), sort_keys=True),
        "provenance": file.provenance,
        "gone": False,
    }
