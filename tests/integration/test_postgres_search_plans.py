"""On PostgreSQL every filtered search query goes through a pg_trgm GIN index (EXPLAIN)."""

from __future__ import annotations

import hashlib
import operator
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from bitimage.bootstrap import Container
from bitimage.search.name_words import WORDS_SQL
from bitimage.search.ports import SearchQuery
from bitimage.users.models import User
from tests.support import captured_sql

ROWS = 30_000
# Two of the vocabulary's words (md5('w1'), md5('w2'): 8 characters each), one letter off.
TWO_WORDS = (
    hashlib.md5(b"w1", usedforsecurity=False).hexdigest()[:7]
    + "x "
    + hashlib.md5(b"w2", usedforsecurity=False).hexdigest()[:8]
)
_HASH = hashlib.md5(b"777", usedforsecurity=False).hexdigest()  # row 777's name, tag, label
WORDS = ["harbour", "sunset", "mountain", "kitten", "bicycle", "lantern", "meadow", "castle"]


@pytest.fixture
def big_index(container: Container) -> uuid.UUID:
    if container.database.dialect != "postgresql":
        pytest.fail("this test needs the PostgreSQL database of the parametrized fixture")
    owner = uuid.uuid4()
    with container.database.transaction() as session:
        session.add(User(id=owner, image_upload_count=0))
        session.flush()
        # Names like "kitten 3f2a9c": a few common words, each with a distinct suffix.
        session.execute(
            text(
                "INSERT INTO images (id, user_id, name, hash, size_bytes, file_format, width, "
                "height, is_private, storage_key, analysis_status, created_at) "
                "SELECT md5(g::text)::uuid, :owner, (CAST(:words AS text[]))[1 + g % 8] || ' ' || "
                "substr(md5(g::text), 1, 6), md5(g::text), 1, 'jpeg', 1, 1, g % 2 = 0, "
                "'k', 'done', now() - g * interval '1 second' FROM generate_series(1, :n) g"
            ),
            {"owner": owner, "n": ROWS, "words": WORDS},
        )
        session.execute(
            text(
                "INSERT INTO image_search (image_id, user_id, created_at, visible, name, tags, "
                "labels, text) SELECT id, user_id, created_at, NOT is_private, lower(name), "
                "E'\\n' || substr(hash, 3, 7) || E'\\n', "
                "E'\\n' || substr(hash, 10, 8) || E'\\n', "
                # A text on one image in sixteen (and row 777), as OCR finds text on a few.
                "CASE WHEN right(hash, 1) = '0' OR hash = md5('777') "
                "THEN E'\\n' || substr(hash, 18, 14) || E'\\n' ELSE '' END FROM images"
            )
        )
        # The names' words and their postings, as the index writes them (name_words.py).
        session.execute(
            text(
                "INSERT INTO image_search_words (word) SELECT DISTINCT w "  # noqa: S608 - fixed
                f"FROM image_search s, {WORDS_SQL} w WHERE w <> ''"
            )
        )
        session.execute(
            text(
                "INSERT INTO image_search_postings (image_id, word, user_id, created_at, visible) "  # noqa: S608 - fixed names
                "SELECT DISTINCT s.image_id, w, s.user_id, s.created_at, s.visible "
                f"FROM image_search s, {WORDS_SQL} w WHERE w <> ''"
            )
        )
        # Each image has its own tag (its hash's letters 2 to 9); every image has "common".
        session.execute(
            text(
                "INSERT INTO tags (id, name) SELECT md5('tag' || id::text)::uuid, "
                "substr(hash, 3, 7) FROM images UNION ALL "
                "SELECT md5('common')::uuid, 'common' ON CONFLICT (name) DO NOTHING"
            )
        )
        session.execute(
            text(
                "INSERT INTO image_tags (image_id, tag_id, user_id, created_at, visible) "
                "SELECT i.id, t.id, user_id, created_at, NOT is_private FROM images i "
                "JOIN tags t ON t.name = substr(i.hash, 3, 7) UNION ALL "
                "SELECT id, md5('common')::uuid, user_id, created_at, NOT is_private FROM images"
            )
        )
        # Each image has its own label (its hash's letters 9 to 17), with a confidence.
        session.execute(
            text(
                "INSERT INTO content_labels (id, name) "
                "SELECT md5('label' || id::text)::uuid, substr(hash, 10, 8) FROM images "
                "UNION ALL SELECT md5('common')::uuid, 'common'"
            )
        )
        session.execute(
            text(
                "INSERT INTO image_content_labels "
                "(image_id, label_id, confidence, analyser, model, user_id, created_at, visible) "
                "SELECT id, md5('label' || id::text)::uuid, 0.5, 'test', 'm', user_id, "
                "created_at, NOT is_private FROM images UNION ALL "
                "SELECT id, md5('common')::uuid, (g % 97) / 97.0, 'test', 'm', user_id, "
                "created_at, NOT is_private FROM (SELECT *, row_number() OVER () g FROM images) i"
            )
        )
    _vacuum(
        container,
        "images",
        "image_search",
        "image_search_words",
        "image_search_postings",
        "content_labels",
        "tags",
        "image_tags",
        "image_content_labels",
    )
    return owner


def _vacuum(container: Container, *tables: str) -> None:
    """VACUUM ANALYZE as autovacuum would: it also merges the GIN pending list inserts fill."""
    with container.database.engine.connect().execution_options(
        isolation_level="AUTOCOMMIT"
    ) as conn:
        for table in tables:
            conn.execute(text(f"VACUUM ANALYZE {table}"))


def _captured(container: Container, query: SearchQuery) -> list[tuple[str, Any]]:
    """The SELECTs one search runs on the search rows, the vocabularies and the postings."""
    tables = ("image_search", "tags", "content_labels", "image_tags", "image_content_labels")
    seen = captured_sql(container, lambda session: container.search_index.search(session, query))
    return [(sql, params) for sql, params in seen
            if any(name in sql for name in tables)
            and sql.lstrip("( \n").upper().startswith("SELECT")]  # fmt: skip


QUERIES = [("text", _HASH[20:28])]
NAMES = [
    # (term, names containing it read from the words' postings, typo candidates read)
    (_HASH[:6], True, True),  # inside one name's word: a camera's number, say
    ("kitten " + _HASH[:4], True, True),  # a whole word, then the start of one
    ("x" + _HASH[1:6], False, True),  # in no word: no name holds it, no posting read
    ("kitten", True, False),  # an eighth of the names: a page of its postings, newest first
]
POSTINGS = [
    ("tag", _HASH[2:9]),  # one image's own tag
    ("tag", _HASH[2:8] + "x"),  # a typo of it
    ("tag", "common"),  # every image's: the index's order stops the scan after a page
    ("label", _HASH[9:17]),
    ("label", "x" + _HASH[10:17]),
    ("label", "common"),
]


def _query(owner: uuid.UUID | None, field: str, term: str) -> SearchQuery:
    """`owner`'s images (None: the public ones) filtered on one text field."""
    return SearchQuery(
        owner_id=owner,
        name=term if field == "name" else None,
        tag=term if field == "tag" else None,
        label=term if field == "label" else None,
        text=term if field == "text" else None,
    )


def _plans(container: Container, query: SearchQuery) -> list[tuple[str, str]]:
    """Each captured statement of the query and its plan."""
    plans = []
    with container.database.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', '0.3', false)")
        for sql, params in _captured(container, query):
            cursor.execute("EXPLAIN " + sql, params)
            plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    return plans


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_filtered_queries_use_trigram_indexes(container: Container, big_index: uuid.UUID) -> None:
    """Names and text through the trigram index of the scope: the owner's, or the visible."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        for field, term in QUERIES:
            plans = _plans(container, _query(owner, field, term))
            assert len(plans) == 2, "expected a strong and a fuzzy query"
            index = f"ix_image_search_{scope}_{field}_trgm"
            for _sql, plan in plans:
                if index not in plan:
                    wrong[f"{scope} {field}={term}"] = plan
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


def _uses(plan: str, index: str) -> bool:
    """Whether the plan reads this index (not merely one whose name starts the same)."""
    return re.search(rf"\b{index}\b(?!_)", plan) is not None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_short_text_term_reads_the_scopes_texts_not_every_trigram_entry(
    container: Container, big_index: uuid.UUID
) -> None:
    """A term of two characters has no trigram: the trigram index would be read whole. The
    public texts come from their covering btree (index only) and the long ones' own index
    (search/short_texts.py); an owner's from the btree of their texts (migration 0018)."""
    term = _HASH[20:22]
    public = [plan for sql, plan in _plans(container, _query(None, "text", term))
              if "octet_length" in sql]  # fmt: skip
    assert len(public) == 1, public  # the strong tier's statement
    plan = public[0]
    assert "Index Only Scan using ix_image_search_public_texts " in plan, plan
    assert _uses(plan, "ix_image_search_public_long_texts"), plan
    assert not _uses(plan, "ix_image_search_public_text_trgm"), plan
    strong = _plans(container, _query(big_index, "text", term))[0][1]
    assert _uses(strong, "ix_image_search_owner_texts"), strong
    assert not _uses(strong, "ix_image_search_owner_text_trgm"), strong


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_name_reads_exact_names_then_the_postings_of_its_words_in_scope(
    container: Container, big_index: uuid.UUID
) -> None:
    """Exact names by the scope's btree; containing names and typo candidates from the words'
    vocabulary, then their postings through the scope's index: never the names' trigrams."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        for term, containing, fuzzy in NAMES:
            plans = _plans(container, _query(owner, "name", term))
            exact = [plan for sql, plan in plans if "s.name = " in sql and "ORDER BY" in sql]
            words = [plan for sql, plan in plans if "FROM image_search_words" in sql]
            similar = [sql for sql in map(operator.itemgetter(0), plans)
                       if "FROM image_search_words" in sql and "ORDER BY" in sql]  # fmt: skip
            postings = [plan for sql, plan in plans if "FROM image_search_postings" in sql]
            reads = [sql for sql, _ in plans if "SELECT DISTINCT image_id, created_at" in sql]
            typos = [sql for sql in reads if "m.image_id" in sql]  # with the names, for ranking
            # Typo candidates: one read a piece of the term at most, the rarest pieces first.
            counts = (len(exact), len(reads) - len(typos), len(similar), bool(typos))
            assert counts == (1, int(containing), int(fuzzy), fuzzy), plans
            expected = [(f"ix_image_search_{scope}_name", exact),
                        (f"ix_image_search_postings_{scope}", postings)]  # fmt: skip
            for index, found in expected:
                wrong.update({f"{scope} name={term} ({index})": plan for plan in found
                              if not _uses(plan, index)})  # fmt: skip
            # The vocabulary: by the word (its key) or by trigrams (a part of a word, similar).
            either = ("ix_image_search_words_trgm", "ix_image_search_words_letters",
                      "image_search_words_pkey")  # fmt: skip
            wrong.update({f"{scope} name={term} (words)": plan for plan in words
                          if not any(_uses(plan, index) for index in either)})  # fmt: skip
            # A posting's name from the scope's recent index alone, by (scope, time, image).
            by_row = ("JOIN image_search s ", "(SELECT s.name FROM image_search s")
            named = [plan for sql, plan in plans if any(form in sql for form in by_row)]
            assert len(named) >= len(typos), plans
            recent, key = f"ix_image_search_{scope}_recent", "image_search_pkey"
            wrong.update({f"{scope} name={term} (names by {recent})": plan for plan in named
                          if not _uses(plan, recent) or _uses(plan, key)})  # fmt: skip
            names = f"ix_image_search_{scope}_name_trgm"
            wrong.update({f"{scope} name={term} (no names' trigrams)": plan for _sql, plan in plans
                          if _uses(plan, names) or "Seq Scan" in plan})  # fmt: skip
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_tags_and_labels_read_the_vocabulary_then_the_scoped_postings(
    container: Container, big_index: uuid.UUID
) -> None:
    """Names through the vocabulary's trigram index; postings through the scope's index."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        for field, term in POSTINGS:
            vocabulary, postings = {"tag": ("tags", "tags"), "label": ("content_labels",
                                    "content_labels")}[field]  # fmt: skip
            plans = _plans(container, _query(owner, field, term))
            names = [plan for sql, plan in plans if "FROM image_" not in sql]
            # A name's postings in order (LIMIT); then, for the images found in the fuzzy
            # tier, their other postings: a few rows, by any index.
            reads = [plan for sql, plan in plans if "FROM image_" in sql and "LIMIT" in sql]
            checks = [plan for sql, plan in plans if "FROM image_" in sql and "LIMIT" not in sql]
            assert names, "the vocabulary is read first"
            assert reads, f"{field}={term}: no posting was read"
            expected = [(f"ix_{vocabulary}_name_trgm", names),
                        (f"ix_{postings}_{scope}_posting", reads)]  # fmt: skip
            wrong.update({f"{scope} {field}={term} (check)": plan for plan in checks
                          if "Seq Scan" in plan})  # fmt: skip
            for index, found in expected:
                for plan in found:
                    if index not in plan:
                        wrong[f"{scope} {field}={term} ({index})"] = plan
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


COMBINED = [
    ("common", "ix_content_labels_{scope}_posting"),  # every image's: the labels lead
    (_HASH[2:9], "ix_tags_{scope}_posting"),  # one image's: its postings, joined
]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_tag_and_a_label_read_the_fewer_postings_in_order(
    container: Container, big_index: uuid.UUID
) -> None:
    """The strong tier of a tag and a label reads the tag's postings or the label's, in scope."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        for tag, index in COMBINED:
            query = SearchQuery(owner_id=owner, tag=tag, label="common")
            strong = [plan for sql, plan in _plans(container, query) if " AS score" in sql]
            assert strong, f"{scope} tag={tag}: no strong statement"
            wrong.update({f"{scope} tag={tag}": plan for plan in strong
                          if index.format(scope=scope) not in plan})  # fmt: skip
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_label_read_in_order_tests_the_tags_images_read_once(
    container: Container, big_index: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tags read once (under SCAN): the label's scoped postings in order, each tested against
    a hash of the tags' images (a hashed SubPlan), not probing the tags' table per posting."""
    monkeypatch.setattr("bitimage.search.combined.SCAN", 10**6)
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        query = SearchQuery(owner_id=owner, tag="common", label="common")
        strong = [plan for sql, plan in _plans(container, query) if " AS score" in sql]
        assert strong, f"{scope}: no strong statement"
        index = f"ix_content_labels_{scope}_posting"
        hashed = [plan for plan in strong if "hashed SubPlan" in plan and index in plan]
        if not hashed or any("pk_image_tags" in plan for plan in hashed):
            wrong[scope] = "\n\n".join(strong)
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_common_tag_and_several_labels_join_both_scoped_postings(
    container: Container, big_index: uuid.UUID
) -> None:
    """Several labels' postings have no common order: the tags lead, joined to the labels' postings
    through their scoped index (a hash join when both are many; here the planner may start from
    the few labels' postings), never through every posting of the labels."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        # Every image has "common"; about forty labels contain these three letters.
        query = SearchQuery(owner_id=owner, tag="common", label=_HASH[9:12])
        strong = [plan for sql, plan in _plans(container, query) if " AS score" in sql]
        assert strong, f"{scope}: no strong statement"
        index = f"ix_content_labels_{scope}_posting"
        unscoped = ("Seq Scan", "ix_image_content_labels_label_id")
        for plan in strong:
            if index not in plan or any(name in plan for name in unscoped):
                wrong[scope] = plan
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_search_statements_are_planned_for_their_values(container: Container) -> None:
    """No statement is prepared on the server, where a generic plan would ignore the values."""
    query = SearchQuery(owner_id=None, tag="common", label="common")
    with container.database.transaction(write=False) as session:
        for _ in range(8):  # psycopg prepares a statement on its fifth run unless told not to
            container.search_index.search(session, query)
        prepared = session.execute(text("SELECT count(*) FROM pg_prepared_statements"))
        assert prepared.scalar_one() == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_vocabulary_is_read_for_similar_names_through_its_trigram_index(
    container: Container,
) -> None:
    """A term of two words among 10,000 names pairing 100 words: the planner, counting
    word_similarity as cheap, would read every tag (a seq scan); the search reads the
    vocabulary through its trigram index, then has the seq scan back."""
    with container.database.transaction() as session:
        session.execute(
            text(
                "INSERT INTO tags (id, name) SELECT md5('t' || a || ' ' || b)::uuid, "
                "substr(md5('w' || a), 1, 8) || ' ' || substr(md5('w' || b), 1, 8) "
                "FROM generate_series(1, 100) a, generate_series(1, 100) b"
            )
        )
    _vacuum(container, "tags")
    plans: list[str] = []

    def explain(conn: Connection, cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if "<%" in sql and "FROM tags" in sql:
            explained = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            explained.execute("EXPLAIN " + sql, params)  # in the search's own transaction
            plans.append("\n".join(row[0] for row in explained.fetchall()))

    engine = container.database.engine
    event.listen(engine, "after_cursor_execute", explain)
    try:
        with container.database.transaction(write=False) as session:
            container.search_index.search(session, SearchQuery(None, tag=TWO_WORDS))
            after = session.execute(text("SHOW enable_seqscan")).scalar_one()
    finally:
        event.remove(engine, "after_cursor_execute", explain)
    assert plans, "the tag vocabulary was not read for similar names"
    assert all("ix_tags_name_trgm" in plan for plan in plans), plans
    assert after == "on"
