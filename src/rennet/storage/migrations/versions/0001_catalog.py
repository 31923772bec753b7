"""The catalog: projects, versions, files and project lists.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("index_name", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16)),
        sa.Column("status_reason", sa.Text),
        sa.Column("upstream_etag", sa.Text),
        sa.Column("upstream_last_modified", sa.Text),
        sa.Column("fetched_at", sa.Float),
        sa.Column("missing", sa.Boolean, nullable=False),
        sa.Column("serial", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("index_name", "name", name="uq_projects_index_name"),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.UniqueConstraint("project_id", "version", name="uq_versions_project_version"),
    )
    op.create_table(
        "files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("version", sa.String(128)),
        sa.Column("source_url", sa.Text),
        sa.Column("hashes", sa.Text, nullable=False),
        sa.Column("requires_python", sa.Text),
        sa.Column("yanked", sa.Boolean, nullable=False),
        sa.Column("yanked_reason", sa.Text),
        sa.Column("size", sa.BigInteger),
        sa.Column("upload_time", sa.Float),
        sa.Column("core_metadata", sa.Text),
        sa.Column("metadata_sha256", sa.String(64)),
        sa.Column("provenance", sa.Text),
        sa.Column("blob_sha256", sa.String(64)),
        sa.Column("cached_at", sa.Float),
        sa.Column("last_access", sa.Float),
        sa.Column("gone", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("project_id", "filename", name="uq_files_project_filename"),
    )
    op.create_index("ix_files_blob_sha256", "files", ["blob_sha256"])
    op.create_index("ix_files_last_access", "files", ["last_access"])
    op.create_table(
        "listings",
        sa.Column("index_name", sa.String(64), primary_key=True),
        sa.Column("upstream_etag", sa.Text),
        sa.Column("upstream_last_modified", sa.Text),
        sa.Column("fetched_at", sa.Float),
        sa.Column("digest", sa.String(64)),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("listings")
    op.drop_table("files")
    op.drop_table("versions")
    op.drop_table("projects")
