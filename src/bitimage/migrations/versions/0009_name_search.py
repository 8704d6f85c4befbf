"""PostgreSQL: names by value and newest first in each scope, for the name filter's strong tier

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:05:00
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's names are in its FTS5 table
    # Exact names: one owner's, or the visible ones, newest first (a LIMIT stops after a page).
    # A name is at most 255 characters: well under a btree entry's limit, as a key or included.
    op.execute(
        "CREATE INDEX ix_image_search_owner_name ON image_search "
        "(user_id, name, created_at, image_id)"
    )
    op.execute(
        "CREATE INDEX ix_image_search_public_name ON image_search "
        "(name, created_at, image_id) WHERE visible"
    )
    # Names containing a common word: read newest first from the index alone (name included),
    # so the scan stops after a page instead of fetching every match from the table.
    op.execute(
        "CREATE INDEX ix_image_search_owner_recent ON image_search "
        "(user_id, created_at, image_id) INCLUDE (name)"
    )
    op.execute("DROP INDEX ix_image_search_owner")  # the index above covers it
    op.execute(
        "CREATE INDEX ix_image_search_public_recent ON image_search "
        "(created_at, image_id) INCLUDE (name) WHERE visible"
    )
    # The planner's choice between those two reads rests on the LIKE's estimated matches: a
    # larger sample of names (300,000 rows instead of 30,000) sees the mid-frequency words.
    op.execute("ALTER TABLE image_search ALTER COLUMN name SET STATISTICS 1000")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_image_search_owner ON image_search (user_id, created_at)")
    op.execute("ALTER TABLE image_search ALTER COLUMN name SET STATISTICS -1")
    for name in ("public_recent", "owner_recent", "public_name", "owner_name"):
        op.execute(f"DROP INDEX ix_image_search_{name}")
