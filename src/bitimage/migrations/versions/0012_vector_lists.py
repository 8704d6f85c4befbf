"""an inverted-file (IVF) index over the image embeddings, in plain tables of both databases

`image_vector_lists`: per image, its owner, an 8-bit code of its embedding and the list (nearest
centroid) it belongs to under a generation of centroids; `image_vector_centroids` holds the
centroids, `image_vector_index` the current generation (0: never trained, every row is scanned).
The index is trained by the worker's upkeep (search/vectors_upkeep.py), not here: the rows of
embeddings stored before get their codes now, all in generation 0.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 02:10:00
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BATCH = 1_000


def _backfill() -> None:
    bind = op.get_bind()
    vectors = sa.table(
        "image_search_vectors",
        sa.column("image_id", sa.Uuid()),
        sa.column("embedding", sa.LargeBinary()),
    )
    images = sa.table("images", sa.column("id", sa.Uuid()), sa.column("user_id", sa.Uuid()))
    lists = sa.table(
        "image_vector_lists",
        sa.column("image_id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        sa.column("generation", sa.Integer()),
        sa.column("list_no", sa.Integer()),
        sa.column("scale", sa.Float()),
        sa.column("code", sa.LargeBinary()),
    )
    rows = bind.execute(
        sa.select(vectors.c.image_id, images.c.user_id, vectors.c.embedding).join(
            images, images.c.id == vectors.c.image_id
        )
    ).all()
    batch = []
    for image_id, user_id, embedding in rows:
        # As search/vectors.quantise (a migration does not import the application).
        vector = np.frombuffer(embedding, dtype=np.float32)
        peak = float(np.abs(vector).max()) or 1.0
        code = np.rint(vector * (127.0 / peak)).astype(np.int8)
        batch.append(
            {"image_id": image_id, "user_id": user_id, "generation": 0, "list_no": 0,
             "scale": peak / 127.0, "code": code.tobytes()}
        )  # fmt: skip
        if len(batch) >= _BATCH:
            bind.execute(lists.insert(), batch)
            batch = []
    if batch:
        bind.execute(lists.insert(), batch)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    uuid_type, blob = ("uuid", "bytea") if postgres else ("CHAR(32)", "BLOB")
    real = "double precision" if postgres else "REAL"
    op.execute(
        "CREATE TABLE image_vector_lists ("
        f" image_id {uuid_type} NOT NULL PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
        f" user_id {uuid_type} NOT NULL,"
        " generation INTEGER NOT NULL,"
        " list_no INTEGER NOT NULL,"
        f" scale {real} NOT NULL,"
        f" code {blob} NOT NULL)"
    )
    # The private probe reads (owner, generation, list); the public one (generation, list).
    op.execute(
        "CREATE INDEX ix_image_vector_lists_owner"
        " ON image_vector_lists (user_id, generation, list_no)"
    )
    op.execute(
        "CREATE INDEX ix_image_vector_lists_list ON image_vector_lists (generation, list_no)"
    )
    op.execute(
        "CREATE TABLE image_vector_centroids ("
        " generation INTEGER NOT NULL,"
        " list_no INTEGER NOT NULL,"
        f" centroid {blob} NOT NULL,"
        " PRIMARY KEY (generation, list_no))"
    )
    op.execute(
        "CREATE TABLE image_vector_index ("
        " id INTEGER NOT NULL PRIMARY KEY,"
        " generation INTEGER NOT NULL,"
        " lists INTEGER NOT NULL)"
    )
    op.execute("INSERT INTO image_vector_index (id, generation, lists) VALUES (1, 0, 0)")
    _backfill()


def downgrade() -> None:
    op.execute("DROP TABLE image_vector_index")
    op.execute("DROP TABLE image_vector_centroids")
    op.execute("DROP TABLE image_vector_lists")
