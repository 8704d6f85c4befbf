"""SQLite: the tag and label vocabularies in FTS5 trigram tables, for their typo candidates

A tag or label filter's typo tier starts from the vocabulary's names most like the term
(search/streams.py). SQLite found them by testing each of the term's trigrams with instr() on
every name: 10,000 tags x 19 trigrams for a long tag, about 37 ms a query whatever the scope.
Each vocabulary now has a trigram FTS5 table of its own (name, and the entry's id beside it),
kept by triggers in the writer's transaction; the candidates are its best bm25 matches of any
of the term's trigrams (search/sqlite_vocabulary.py). PostgreSQL has a trigram index on each
vocabulary since 0006.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:00:00
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

VOCABULARIES = ("tags", "content_labels")  # fixed names: the f-strings below hold no input


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in VOCABULARIES:
        grams = f"{table}_grams"
        op.execute(
            f"CREATE VIRTUAL TABLE {grams} USING fts5(name, id UNINDEXED, tokenize='trigram')"
        )
        op.execute(f"INSERT INTO {grams} (name, id) SELECT name, id FROM {table}")  # noqa: S608
        # Entries are added and renamed never in practice, deleted rarely: a delete finds its
        # row by id, a scan of a table of names (no index on an UNINDEXED column).
        op.execute(
            f"CREATE TRIGGER {grams}_insert AFTER INSERT ON {table} BEGIN "  # noqa: S608
            f"INSERT INTO {grams} (name, id) VALUES (new.name, new.id); END"
        )
        op.execute(
            f"CREATE TRIGGER {grams}_delete AFTER DELETE ON {table} BEGIN "  # noqa: S608
            f"DELETE FROM {grams} WHERE id = old.id; END"
        )
        op.execute(
            f"CREATE TRIGGER {grams}_update AFTER UPDATE OF name, id ON {table} BEGIN "  # noqa: S608
            f"DELETE FROM {grams} WHERE id = old.id; "
            f"INSERT INTO {grams} (name, id) VALUES (new.name, new.id); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in VOCABULARIES:
        grams = f"{table}_grams"
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER {grams}_{event}")
        op.execute(f"DROP TABLE {grams}")
