"""upload grants record a running notify (claimed_at) and a pinned upload (pinned)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 17:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("upload_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("upload_grants", schema=None) as batch_op:
        batch_op.drop_column("pinned")
        batch_op.drop_column("claimed_at")
