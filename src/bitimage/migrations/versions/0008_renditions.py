"""images record their renditions (when made, the ThumbHash placeholder) and the stripped copy

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("placeholder", sa.String(64), nullable=True))
        batch_op.add_column(
            sa.Column("public_copy", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("public_copy")
        batch_op.drop_column("placeholder")
        batch_op.drop_column("rendered_at")
