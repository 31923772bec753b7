"""Change counters in the database, for servers on several hosts that share it (PostgreSQL).

One row per slot (at most storage.generations.SLOTS rows), each bumped in place: a server that missed a
notification finds the change by comparing the rows with what it has seen. SQLite keeps its counters in a
memory-mapped file of the data directory and never writes this table.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("slot", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("generations")
