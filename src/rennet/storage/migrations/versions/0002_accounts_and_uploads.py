"""Users and API tokens; what hosted uploads add to files.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(32), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("index_name", sa.String(64)),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float),
        sa.Column("revoked_at", sa.Float),
    )
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("md5", sa.String(32)))
        batch.add_column(sa.Column("blake2b_256", sa.String(64)))
        batch.add_column(sa.Column("uploaded_by", sa.String(100)))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_column("uploaded_by")
        batch.drop_column("blake2b_256")
        batch.drop_column("md5")
    op.drop_table("tokens")
    op.drop_table("users")
