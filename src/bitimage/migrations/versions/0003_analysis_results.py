"""analysis results: label provenance, failure reason and facts per image

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each analyser owns its rows: re-running one replaces its labels, never another's.
    with op.batch_alter_table("image_content_labels", schema=None, recreate="always") as batch_op:
        batch_op.add_column(
            sa.Column("analyser", sa.String(length=32), nullable=False, server_default="legacy")
        )
        batch_op.add_column(
            sa.Column("model", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.drop_constraint("pk_image_content_labels", type_="primary")
        batch_op.create_primary_key("pk_image_content_labels", ["image_id", "label_id", "analyser"])
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("analysis_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("analysis_facts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("analysed_at")
        batch_op.drop_column("analysis_facts")
        batch_op.drop_column("analysis_error")
    with op.batch_alter_table("image_content_labels", schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint("pk_image_content_labels", type_="primary")
        batch_op.drop_column("model")
        batch_op.drop_column("analyser")
        batch_op.create_primary_key("pk_image_content_labels", ["image_id", "label_id"])
