"""The catalog's tables. One row per project, per version and per file: nothing grows inside a single value.

Migrations live in rennet/storage/migrations and are applied with Alembic at start-up.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("index_name", String(64), nullable=False),
    Column("name", String(200), nullable=False),  # normalized (PEP 503)
    Column("display_name", String(200), nullable=False),
    Column("status", String(16)),  # PEP 792; None = not stated
    Column("status_reason", Text),
    # Proxy pages: validators for conditional requests, and when the upstream last confirmed the page.
    Column("upstream_etag", Text),
    Column("upstream_last_modified", Text),
    Column("fetched_at", Float),
    Column("missing", Boolean, nullable=False, default=False),  # the upstream answered 404
    Column("serial", Integer, nullable=False, default=0),  # bumped on every change of the page
    Column("created_at", Float, nullable=False),
    # The latest release's summary, for search (hosted: from its upload; proxies: from the metadata of the files
    # clients fetch, or the upstream's JSON API), and the release it describes (None: not known).
    Column("summary", Text),
    Column("summary_version", Text),
    UniqueConstraint("index_name", "name", name="uq_projects_index_name"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("version", Text, nullable=False),
    UniqueConstraint("project_id", "version", name="uq_versions_project_version"),
)

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("version", Text),
    Column("source_url", Text),  # where a proxy fetches the bytes; None for hosted files
    Column("hashes", Text, nullable=False, default="{}"),  # JSON {algorithm: hex} as the index states them
    Column("requires_python", Text),
    Column("yanked", Boolean, nullable=False, default=False),
    Column("yanked_reason", Text),
    Column("size", BigInteger),
    Column("upload_time", Float),
    Column("core_metadata", Text),  # JSON hashes of the upstream's .metadata; "{}" = exists, no hash; None = none
    Column("metadata_sha256", String(64)),  # the .metadata blob we hold
    Column("provenance", Text),  # the upstream's URL of the file's PEP 740 provenance
    Column("provenance_sha256", String(64)),  # the provenance object we hold (fetched once, or uploaded)
    Column("blob_sha256", String(64)),  # the verified bytes we hold; None until first fetched
    Column("cached_at", Float),
    Column("last_access", Float),
    Column("gone", Boolean, nullable=False, default=False),  # no longer listed upstream, kept
    Column("created_at", Float, nullable=False),
    Column("md5", String(32)),  # hosted uploads: the other digests PyPI's JSON API reports
    Column("blake2b_256", String(64)),
    Column("uploaded_by", String(100)),
    # Hosted files: the release and tags the file is, whatever the spelling of its name (names.file_identity).
    Column("identity", Text),
    UniqueConstraint("project_id", "filename", name="uq_files_project_filename"),
)

Index("ix_files_blob_sha256", files.c.blob_sha256)
Index("ix_files_last_access", files.c.last_access)
Index("ix_files_metadata_sha256", files.c.metadata_sha256)  # which rows refer to a blob, for gc and eviction
Index("ix_files_provenance_sha256", files.c.provenance_sha256)
Index("uq_files_project_identity", files.c.project_id, files.c.identity, unique=True)
_uploaded = files.c.uploaded_by.is_not(None)
Index("ix_files_uploads", files.c.upload_time, sqlite_where=_uploaded, postgresql_where=_uploaded)  # recent uploads

listings = Table(
    "listings",
    metadata,
    Column("index_name", String(64), primary_key=True),
    Column("upstream_etag", Text),
    Column("upstream_last_modified", Text),
    Column("fetched_at", Float),
    Column("digest", String(64)),  # names the rendered files of the project list
    Column("count", Integer, nullable=False, default=0),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # argon2
    Column("admin", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(32), nullable=False, unique=True),  # the public part of the token, to find it
    Column("secret_hash", String(64), nullable=False),  # sha256 of the secret part
    Column("index_name", String(64)),  # None: every index the user may use
    Column("scope", String(16), nullable=False),  # read or upload
    Column("description", Text),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("revoked_at", Float),
)

# project_search, the index of names and summaries, is dialect-specific (an FTS5 table on SQLite): made by
# migration 0010 and written by storage/search.py, so not declared here.

# Change counters shared by servers on several hosts (PostgreSQL only; see storage/clustergenerations.py).
generations = Table(
    "generations",
    metadata,
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)

# Who is fetching a file from an upstream right now, for servers on several hosts (see storage/transfers.py).
transfers = Table(
    "transfers",
    metadata,
    Column("key", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Failed password logins, counted by every worker of every host (see service/runtime/auth.py).
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", String(64), nullable=False),
    Column("user_name", String(100), nullable=False),
    Column("at", Float, nullable=False),
    Index("login_failures_who", "address", "user_name", "at"),
    Index("login_failures_at", "at"),
)

# Security advisories (OSV), one row per advisory and project it concerns (see domain/advisories.py); lists are
# JSON text. Imported by `rennet advisories import`, read per project when a page is built.
advisories = Table(
    "advisories",
    metadata,
    Column("id", Text, primary_key=True),
    Column("project", Text, primary_key=True),
    Column("modified", Float, nullable=False),
    Column("withdrawn", Float, nullable=True),
    Column("malicious", Boolean, nullable=False),
    Column("summary", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("aliases", Text, nullable=False),
    Column("versions", Text, nullable=False),
    Column("ranges", Text, nullable=False),
    Index("advisories_project", "project"),
)

# Full mirrors (`rennet mirror --all` / `--sync`, see storage/mirrorstate.py): one row per project of a proxy's
# mirror, with the upstream serial and scope it was last synced at, and its last failure (retried next time).
mirror_projects = Table(
    "mirror_projects",
    metadata,
    Column("index_name", String(64), primary_key=True),
    Column("name", String(200), primary_key=True),  # normalized
    Column("serial", BigInteger),  # None: the upstream gives no serials (pages are validated by ETag instead)
    Column("scope", String(16), nullable=False),
    Column("synced_at", Float, nullable=False),
    Column("error", Text),
)
