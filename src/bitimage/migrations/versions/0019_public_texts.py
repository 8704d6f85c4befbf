"""PostgreSQL: the public texts in a btree that includes them, for terms too short for trigrams

A public text term of one or two characters (`no`) has no trigram: the public trigram index of
texts was read whole, then each text's heap page (52 ms at 1,000,000 images, 20,000 public
texts). A btree of the public texts that includes them answers it by an index-only scan (5 ms):
search/short_texts.py. A btree entry holds at most about 2,700 bytes, so texts over 2,000 bytes
go in a second index of their own; statistics on the texts' sizes tell the planner how few
those are (without them it guessed a third of the rows and planned parallel workers).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 03:30:00
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_image_search_public_texts ON image_search (created_at, image_id) "
            "INCLUDE (text) WHERE visible AND text <> '' AND octet_length(text) <= 2000"
        )
        op.execute(
            "CREATE INDEX ix_image_search_public_long_texts ON image_search "
            "(created_at, image_id) WHERE visible AND octet_length(text) > 2000"
        )
        op.execute(
            "CREATE STATISTICS image_search_text_sizes ON (octet_length(text)) FROM image_search"
        )
        # Gathered now, not at autovacuum's next analysis of a table that may rarely change.
        op.execute("ANALYZE image_search")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS image_search_text_sizes")
        op.execute("DROP INDEX ix_image_search_public_long_texts")
        op.execute("DROP INDEX ix_image_search_public_texts")
