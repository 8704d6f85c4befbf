"""SQLite: each search row's name beside its owner, in an index ordered by owner and time

A private name search of an owner under the crossover (search/sqlite_owned.py) read each of the
owner's rows from FTS5's content table by rowid: at 1M images one owner's 10,000 rows lie on
10,000 different pages of a table that holds tags, labels and text too. With the name in
image_search_rows and an index on (owner, time, image, name), the same search reads the
owner's names from a few hundred pages of that index alone.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:20:00
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's search rows hold the name already (and its words, 0014)
    op.execute("ALTER TABLE image_search_rows ADD COLUMN name TEXT NOT NULL DEFAULT ''")
    # The name as FTS5 holds it (c0: its first column), for the rows indexed before.
    op.execute(
        "UPDATE image_search_rows SET name = coalesce("
        "(SELECT c.c0 FROM image_search_content c WHERE c.id = image_search_rows.rowid), '')"
    )
    op.execute(
        "CREATE INDEX ix_image_search_rows_owner_names "
        "ON image_search_rows (user_id, created_at, image_id, name)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP INDEX ix_image_search_rows_owner_names")
    op.execute("ALTER TABLE image_search_rows DROP COLUMN name")
