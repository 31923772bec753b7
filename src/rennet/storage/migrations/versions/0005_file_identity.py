"""Each hosted file's identity within its project (its release and, for a wheel, its tags), unique per project.

Other bytes under another spelling of a published file name ("SWAPX-1.0-..." beside "swapx-1.0-...", or
"swapx-1.0.0-..." for release 1.0) would change what an exact pin installs; two sdists of one release could be
accepted by concurrent uploads. The unique index makes the database refuse both, atomically. Files of proxies
keep no identity (an upstream may list what it likes). Existing hosted files get theirs, except later duplicates,
which stay as they are.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rennet.domain.names import file_identity

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("identity", sa.Text()))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, project_id, filename FROM files WHERE uploaded_by IS NOT NULL ORDER BY id")
    )
    seen: set[tuple[int, str]] = set()
    updates: list[dict[str, object]] = []
    for row in rows.fetchall():
        identity = file_identity(row.filename)
        if identity is None or (row.project_id, identity) in seen:
            continue
        seen.add((row.project_id, identity))
        updates.append({"i": identity, "id": row.id})
    if updates:  # one statement, many parameter sets: not a round trip per file
        connection.execute(sa.text("UPDATE files SET identity = :i WHERE id = :id"), updates)
    op.create_index("uq_files_project_identity", "files", ["project_id", "identity"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_files_project_identity", table_name="files")
    op.drop_column("files", "identity")
