"""images carry their dHash in four indexed 16-bit bands, for near-duplicate lookups

The bands of images analysed before are filled from the dHash in their analysis facts.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BANDS = range(4)


def _backfill() -> None:
    images = sa.table(
        "images",
        sa.column("id", sa.Uuid()),
        sa.column("analysis_facts", sa.JSON()),
        *(sa.column(f"dhash{n}", sa.Integer()) for n in BANDS),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(images.c.id, images.c.analysis_facts)).all()
    for image_id, facts in rows:
        dhash = (facts or {}).get("dhash")
        if not isinstance(dhash, str) or len(dhash) != 16:
            continue
        value = int(dhash, 16)
        bands = {f"dhash{n}": (value >> (48 - 16 * n)) & 0xFFFF for n in BANDS}
        bind.execute(sa.update(images).where(images.c.id == image_id).values(**bands))


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        for n in BANDS:
            batch_op.add_column(sa.Column(f"dhash{n}", sa.Integer(), nullable=True))
    for n in BANDS:
        op.create_index(f"ix_images_user_dhash{n}", "images", ["user_id", f"dhash{n}"])
        op.create_index(
            f"ix_images_public_dhash{n}",
            "images",
            [f"dhash{n}"],
            postgresql_where=sa.text("NOT is_private"),
            sqlite_where=sa.text("NOT is_private"),
        )
    _backfill()


def downgrade() -> None:
    for n in BANDS:
        op.drop_index(f"ix_images_public_dhash{n}", table_name="images")
        op.drop_index(f"ix_images_user_dhash{n}", table_name="images")
    with op.batch_alter_table("images", schema=None) as batch_op:
        for n in reversed(BANDS):
            batch_op.drop_column(f"dhash{n}")
