"""PostgreSQL: the words of the names, a vocabulary and postings in scope, for the name filter

A name's words are its runs of ASCII letters and digits (`img_20200313_141726.jpg`: img,
20200313, 141726, jpg), split by the one SQL expression search/name_words.py writes them with.
`image_search_words` is the vocabulary (trigram indexes: parts of words, and typo candidates
among the words without a digit; a "C" btree: prefixes);
`image_search_postings` has one row an image and word with the image's scope, keyed like the
tag postings: (owner, word, time, image) and (word, time, image) over the visible rows.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 05:40:00
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The same split as search/name_words.py's WORDS (kept apart: a migration does not change).
_WORDS = "regexp_split_to_table(s.name, '[^a-z0-9]+')"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's names are in its FTS5 table
    op.execute('CREATE TABLE image_search_words (word text COLLATE "C" PRIMARY KEY)')
    op.execute(
        "CREATE TABLE image_search_postings ("
        " image_id uuid NOT NULL REFERENCES image_search (image_id) ON DELETE CASCADE,"
        ' word text COLLATE "C" NOT NULL, user_id uuid NOT NULL,'
        " created_at timestamptz NOT NULL, visible boolean NOT NULL,"
        " PRIMARY KEY (image_id, word))"
    )
    op.execute(
        "INSERT INTO image_search_words (word) "  # noqa: S608 - fixed names
        f"SELECT DISTINCT w FROM image_search s, {_WORDS} w WHERE w <> ''"
    )
    op.execute(
        "INSERT INTO image_search_postings (image_id, word, user_id, created_at, visible) "  # noqa: S608 - fixed names
        "SELECT DISTINCT s.image_id, w, s.user_id, s.created_at, s.visible "
        f"FROM image_search s, {_WORDS} w WHERE w <> ''"
    )
    # Parts of words (LIKE) among every word; similar words among those without a digit only:
    # camera numbers are most of the vocabulary and share their trigrams by the thousand.
    op.execute(
        "CREATE INDEX ix_image_search_words_trgm ON image_search_words "
        "USING gin (word gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_image_search_words_letters ON image_search_words "
        "USING gin (word gin_trgm_ops) WHERE word !~ '[0-9]'"
    )
    # One owner's images with a word, newest first; everyone's visible ones: a LIMIT stops.
    op.execute(
        "CREATE INDEX ix_image_search_postings_owner ON image_search_postings "
        "(user_id, word, created_at, image_id)"
    )
    op.execute(
        "CREATE INDEX ix_image_search_postings_public ON image_search_postings "
        "(word, created_at, image_id) WHERE visible"
    )
    # Statistics now, not at autovacuum's next pass: the first searches are planned with them.
    op.execute("ANALYZE image_search_words")
    op.execute("ANALYZE image_search_postings")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE image_search_postings")
    op.execute("DROP TABLE image_search_words")
