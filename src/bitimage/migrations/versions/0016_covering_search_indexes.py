"""PostgreSQL: label postings' indexes carry the analyser; the text indexes skip empty texts

1. Label postings.

A label read in confidence order (search/postings_by_label.py, streams, the typo tier of a
tag with a label) compares each posting with the image's other postings of the label, down to
the analyser (an image's best label). The scoped indexes lacked that column, so every posting
scanned was fetched from the table too: 5,580 postings of `animal` in the public scope, 21 ms
of a 47 ms statement at 1M images; with the analyser included the scan is index-only and the
same search took 42 ms instead of 83-96 (bench/README.md). SQLite keeps its indexes.

2. OCR text. Most images have none (an empty text). A term shorter than a trigram (`no`) gives
the trigram index nothing to look up, so it returned every row in scope for the LIKE to
recheck: 399,632 rows, 140 ms, for 1,129 matches at 1M images. Indexed only where there is a
text (searches say `text <> ''` as the index does), the same read is the 5% that have one.

Rebuilding the two indexes locks image_content_labels against writes while they build (a few
seconds at 1M images).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 08:50:00
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_content_labels_owner_posting": "(user_id, label_id, confidence, created_at, image_id)",
    "ix_content_labels_public_posting": "(label_id, confidence, created_at, image_id)",
}
_WHERE = {"ix_content_labels_public_posting": " WHERE visible"}


def _rebuild(include: str) -> None:
    for name, columns in _INDEXES.items():
        op.execute(f"DROP INDEX {name}")
        op.execute(
            f"CREATE INDEX {name} ON image_content_labels {columns}{include}{_WHERE.get(name, '')}"
        )


_TEXT = {
    "ix_image_search_owner_text_trgm": "(user_id, text gin_trgm_ops)",
    "ix_image_search_public_text_trgm": "(text gin_trgm_ops)",
}


def _text(where: dict[str, str]) -> None:
    for name, columns in _TEXT.items():
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON image_search USING gin {columns}{where[name]}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(" INCLUDE (analyser)")
        _text(
            {
                "ix_image_search_owner_text_trgm": " WHERE text <> ''",
                "ix_image_search_public_text_trgm": " WHERE visible AND text <> ''",
            }
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild("")
        _text(
            {
                "ix_image_search_owner_text_trgm": "",
                "ix_image_search_public_text_trgm": " WHERE visible",
            }
        )
