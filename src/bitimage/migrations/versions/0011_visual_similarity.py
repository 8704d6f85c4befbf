"""image embeddings for visually similar images: one float32 blob an image, scanned exactly

One row an image, deleted with it (foreign key cascade). No vector index yet: pgvector is not
packaged for this Debian release and this Python's sqlite3 cannot load sqlite-vec (README).
Images analysed before get theirs when reanalysed (`bitimage admin reanalyze`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 00:15:00
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE image_search_vectors ("
            " image_id uuid PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
            " embedding bytea NOT NULL)"
        )
        return
    op.execute(
        "CREATE TABLE image_search_vectors ("
        " image_id CHAR(32) NOT NULL PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
        " embedding BLOB NOT NULL)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE image_search_vectors")
