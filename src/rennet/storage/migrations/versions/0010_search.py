"""Search: a summary per project, and the index of project names and summaries (SQLite FTS5, PostgreSQL
full-text search; see storage/search.py), filled here with every project there is. Uploads by time, for the
web UI's list of recent uploads.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rennet.storage.search import index_projects

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    op.add_column("projects", sa.Column("summary", sa.Text(), nullable=True))
    op.create_index(
        "ix_files_uploads",
        "files",
        ["upload_time"],
        sqlite_where=sa.text("uploaded_by IS NOT NULL"),
        postgresql_where=sa.text("uploaded_by IS NOT NULL"),
    )
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE project_search (project_id INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE, "
            "document TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX project_search_document ON project_search USING GIN (document)")
    else:
        # Prefix indexes for two and three characters: the first letters typed into a search box stay fast.
        op.execute(
            "CREATE VIRTUAL TABLE project_search USING fts5(words, summary, "
            "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
        )
    after = -1
    while True:
        rows = connection.execute(
            sa.text("SELECT id, name FROM projects WHERE id > :after ORDER BY id LIMIT :batch"),
            {"after": after, "batch": _BATCH},
        ).all()
        if not rows:
            break
        index_projects(connection, [(row.id, row.name, None) for row in rows])
        after = rows[-1].id


def downgrade() -> None:
    op.execute("DROP TABLE project_search")
    op.drop_index("ix_files_uploads", "files")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("summary")
