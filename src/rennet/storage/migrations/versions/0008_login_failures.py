"""Failed logins in the catalog, so that the limit on guessing holds across worker processes and hosts.

One row per failed password login, by client address and user name; rows older than an hour are deleted as new
failures come in.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("login_failures_who", "login_failures", ["address", "user_name", "at"])
    op.create_index("login_failures_at", "login_failures", ["at"])


def downgrade() -> None:
    op.drop_table("login_failures")
