"""Security advisories (OSV) imported by `rennet advisories import`: one row per advisory and project.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advisories",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("project", sa.Text(), primary_key=True),
        sa.Column("modified", sa.Float(), nullable=False),
        sa.Column("withdrawn", sa.Float(), nullable=True),
        sa.Column("malicious", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.Column("ranges", sa.Text(), nullable=False),
    )
    op.create_index("advisories_project", "advisories", ["project"])


def downgrade() -> None:
    op.drop_table("advisories")
