"""An index on files.metadata_sha256: gc, eviction and verify ask which rows refer to a blob.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_files_metadata_sha256", "files", ["metadata_sha256"])


def downgrade() -> None:
    op.drop_index("ix_files_metadata_sha256", table_name="files")
