"""image embeddings for visually similar images: pgvector with an HNSW index on PostgreSQL

One row an image, deleted with it (foreign key cascade). PostgreSQL stores a vector(1280)
searched through an HNSW index (cosine); other databases a float32 blob, scanned exactly.
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
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
        op.execute(
            "CREATE TABLE image_search_vectors ("
            " image_id uuid PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
            " embedding vector(1280) NOT NULL)"
        )
        op.execute(
            "CREATE INDEX ix_image_search_vectors_hnsw ON image_search_vectors"
            " USING hnsw (embedding vector_cosine_ops)"
        )
        return
    op.execute(
        "CREATE TABLE image_search_vectors ("
        " image_id CHAR(32) NOT NULL PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
        " embedding BLOB NOT NULL)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE image_search_vectors")
