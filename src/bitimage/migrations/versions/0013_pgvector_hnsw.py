"""pgvector's HNSW index over the image embeddings, on PostgreSQL servers that have pgvector

Only when the server offers the `vector` extension (`pg_available_extensions`); elsewhere, and
on SQLite, this revision changes nothing and the IVF tables of 0012 stay the only index.
`image_vectors_hnsw`: per image, its owner and its embedding as a `halfvec(1280)` (2,564
bytes, kept inside the row: PLAIN storage, no TOAST lookup a row), with an HNSW index for inner
product (the embeddings have length one, so it orders by cosine) and a B-tree on the owner for
exact scans of small libraries. Embeddings stored before are copied in.
To use pgvector on a server that gets it later: `bitimage migrate --to 0012`, then
`bitimage migrate` (README, "Visually similar images").

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:20:00
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BATCH = 1_000


def available(bind: sa.Connection) -> bool:
    """Whether this revision builds the HNSW table: PostgreSQL with pgvector on the server."""
    if bind.dialect.name != "postgresql":
        return False
    found = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    ).scalar()
    return found is not None


def literal(vector: np.ndarray) -> str:
    """A vector as pgvector's text form (as search/vectors_hnsw.literal: no app import here)."""
    return "[" + ",".join(f"{value:.6g}" for value in vector.tolist()) + "]"


def _backfill(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT v.image_id, i.user_id, v.embedding FROM image_search_vectors v"
            " JOIN images i ON i.id = v.image_id"
        )
    ).all()
    insert = sa.text(
        "INSERT INTO image_vectors_hnsw (image_id, user_id, embedding)"
        " VALUES (:image_id, :user_id, CAST(:embedding AS halfvec))"
    )
    for at in range(0, len(rows), _BATCH):
        batch = [
            {"image_id": image_id, "user_id": user_id,
             "embedding": literal(np.frombuffer(embedding, dtype=np.float32))}
            for image_id, user_id, embedding in rows[at : at + _BATCH]
        ]  # fmt: skip
        bind.execute(insert, batch)


def upgrade() -> None:
    bind = op.get_bind()
    if not available(bind):
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute(
        "CREATE TABLE image_vectors_hnsw ("
        " image_id uuid NOT NULL PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
        " user_id uuid NOT NULL,"
        " embedding halfvec(1280) NOT NULL)"
    )
    # 2,564 bytes fit a page: kept in the row, a scan reads no TOAST table.
    op.execute("ALTER TABLE image_vectors_hnsw ALTER COLUMN embedding SET STORAGE PLAIN")
    op.execute("CREATE INDEX ix_image_vectors_hnsw_owner ON image_vectors_hnsw (user_id)")
    _backfill(bind)
    # After the copy: one build of the graph is faster than as many inserts into it.
    op.execute("SET LOCAL maintenance_work_mem = '1GB'")
    op.execute(
        "CREATE INDEX ix_image_vectors_hnsw_embedding ON image_vectors_hnsw"
        " USING hnsw (embedding halfvec_ip_ops)"
    )


def downgrade() -> None:
    # The IVF rows were kept up to date beside it (search/vectors_hnsw.py): nothing to rebuild.
    op.execute("DROP TABLE IF EXISTS image_vectors_hnsw")
