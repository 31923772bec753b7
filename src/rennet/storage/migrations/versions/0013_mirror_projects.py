"""Full mirrors (`rennet mirror --all` / `--sync`): one row per mirrored project with the upstream serial it was
last synced at, the scope (filters) it was synced with, and the failure to retry next time.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mirror_projects",
        sa.Column("index_name", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("serial", sa.BigInteger(), nullable=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("synced_at", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("mirror_projects")
