"""Leases on upstream transfers, so that servers on several hosts fetch each file from the upstream once.

A row lives while one host transfers the file (and is renewed meanwhile); it is deleted when the transfer ends,
and a host that died leaves a row whose expiry lets the next one take it over.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("transfers")
