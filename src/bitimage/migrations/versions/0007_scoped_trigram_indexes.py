"""PostgreSQL: the search rows' trigram indexes keyed by owner, and over the visible rows only

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:40:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = ("name", "text", "tags", "labels")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite reads the owner's rows through image_search_rows (0006)
    # btree_gin lets one GIN index hold the owner (uuid) beside the trigrams; it is a trusted
    # extension (PostgreSQL 13+), as pg_trgm is: a database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    for column in COLUMNS:
        # Every search is one owner's or the public's: the unscoped index goes.
        op.execute(f"DROP INDEX ix_image_search_{column}_trgm")
        op.execute(
            f"CREATE INDEX ix_image_search_owner_{column}_trgm ON image_search "
            f"USING gin (user_id, {column} gin_trgm_ops)"
        )
        op.execute(
            f"CREATE INDEX ix_image_search_public_{column}_trgm ON image_search "
            f"USING gin ({column} gin_trgm_ops) WHERE visible"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.execute(f"DROP INDEX ix_image_search_public_{column}_trgm")
        op.execute(f"DROP INDEX ix_image_search_owner_{column}_trgm")
        op.execute(
            f"CREATE INDEX ix_image_search_{column}_trgm ON image_search "
            f"USING gin ({column} gin_trgm_ops)"
        )
