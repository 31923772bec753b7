"""Versions as text: a release's version is as long as its file name allows, up to 255 characters.

SQLite never enforced the old length of 128; PostgreSQL refused such an upload with an error. SQLite has nothing
to change.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table in ("files", "versions"):
        op.alter_column(table, "version", type_=sa.Text(), existing_type=sa.String(128))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table in ("files", "versions"):
        op.alter_column(table, "version", type_=sa.String(128), existing_type=sa.Text())
