"""Which release a project's summary describes: a proxy learns summaries from the metadata of whatever wheels
clients fetch, old releases too, and keeps the newest release's (storage/catalog.py, learn_summary).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("summary_version", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("summary_version")
