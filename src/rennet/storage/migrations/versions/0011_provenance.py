"""files.provenance_sha256: the PEP 740 provenance object held for a file (an upstream's, fetched once, or an
upload's), a blob like the file itself; indexed because gc, eviction and verify ask which rows refer to a blob.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("provenance_sha256", sa.String(64), nullable=True))
    op.create_index("ix_files_provenance_sha256", "files", ["provenance_sha256"])


def downgrade() -> None:
    op.drop_index("ix_files_provenance_sha256", table_name="files")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("provenance_sha256")
