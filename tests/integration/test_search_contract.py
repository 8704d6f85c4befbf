"""The recording search index keeps the real indexes' contract: the same assertions on each."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from bitimage.analysis.label_words import DefaultLabelWords
from bitimage.analysis.ports import Label
from bitimage.analysis.repository import AnalysisRepository
from bitimage.search.ports import InvalidCursor, SearchEntry, SearchIndex, SearchQuery
from bitimage.search.sqlite import SqliteSearchIndex
from bitimage.users.models import User
from tests.databases import empty_tables
from tests.fakes import RecordingSearchIndex
from tests.support import add_image_row, make_container, make_settings, set_tags


@dataclass
class Backend:
    """An index, the session it is given, how an image comes to exist and gets its labels."""

    index: SearchIndex
    session: Session
    owner: uuid.UUID
    new_image: Callable[[str], uuid.UUID]
    # The real index ranks labels from the analysis rows and finds tags from their links;
    # the fake reads the entry's.
    label: Callable[[uuid.UUID, str], None]
    tag: Callable[[uuid.UUID, list[str]], None]


# sqlite-fts: an owner's private searches through FTS5, as owners above the crossover are
# (sqlite: through the owner's own rows): both plans keep the same contract.
@pytest.fixture(params=["sqlite", "sqlite-fts", "postgresql", "fake"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    owner = uuid.uuid4()
    if request.param == "fake":
        fake = RecordingSearchIndex()
        yield Backend(
            fake,
            Session(),
            owner,
            lambda _name: uuid.uuid4(),
            lambda _i, _l: None,
            lambda _i, _t: None,
        )
        return
    url = f"sqlite:///{tmp_path / 'bitimage.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        empty_tables(url)
    container = make_container(make_settings(tmp_path / "data", database_url=url))
    try:
        with container.database.transaction() as session:
            session.add(User(id=owner, image_upload_count=0))
            session.flush()
            index = container.search_index
            if request.param == "sqlite-fts":
                index = SqliteSearchIndex(DefaultLabelWords(), owner_scan=0)
            yield Backend(
                index,
                session,
                owner,
                lambda name: add_image_row(session, owner, name),
                lambda image_id, name: AnalysisRepository(session).replace_labels(
                    image_id, "test", "m@1", [Label(name, 0.9)]
                ),
                lambda image_id, names: set_tags(session, image_id, names),
            )
    finally:
        container.close()


def _ids(
    backend: Backend,
    name: str | None = None,
    tag: str | None = None,
    label: str | None = None,
    text: str | None = None,
) -> set[uuid.UUID]:
    query = SearchQuery(backend.owner, name=name, tag=tag, label=label, text=text)
    return set(backend.index.search(backend.session, query).image_ids)


def _entries(backend: Backend) -> tuple[SearchEntry, SearchEntry]:
    a, b = backend.new_image("sunset beach"), backend.new_image("mountain lake")
    backend.label(a, "seashore")
    backend.label(b, "alp")
    backend.tag(a, ["holiday"])
    backend.tag(b, ["hiking"])
    return (
        SearchEntry(a, "sunset beach", ["holiday"], ["seashore"], "WELCOME HOME"),
        SearchEntry(b, "mountain lake", ["hiking"], ["alp"], "TRAIL CLOSED"),
    )


def test_each_field_finds_its_image(backend: Backend) -> None:
    a, b = _entries(backend)
    backend.index.index(backend.session, [a, b])
    assert _ids(backend) == {a.image_id, b.image_id}
    assert _ids(backend, name="sunset") == {a.image_id}
    assert _ids(backend, tag="hiking") == {b.image_id}
    assert _ids(backend, label="seashore") == {a.image_id}
    assert _ids(backend, text="closed") == {b.image_id}
    assert _ids(backend, name="zebra") == set()


def test_indexing_again_replaces_and_remove_forgets(backend: Backend) -> None:
    a, b = _entries(backend)
    backend.index.index(backend.session, [a, b])
    backend.tag(a.image_id, ["city"])
    backend.index.index(backend.session, [SearchEntry(a.image_id, a.name, ["city"])])
    assert _ids(backend, tag="holiday") == set()
    assert _ids(backend, tag="city") == {a.image_id}
    backend.index.remove(backend.session, [b.image_id])
    assert _ids(backend, tag="hiking") == set()


def test_pages_follow_the_cursor_and_refuse_a_foreign_one(backend: Backend) -> None:
    a, b = _entries(backend)
    backend.index.index(backend.session, [a, b])
    first = backend.index.search(backend.session, SearchQuery(backend.owner, limit=1))
    assert len(first.image_ids) == 1
    assert first.next_cursor is not None
    query = SearchQuery(backend.owner, limit=1, cursor=first.next_cursor)
    second = backend.index.search(backend.session, query)
    assert set(first.image_ids + second.image_ids) == {a.image_id, b.image_id}
    assert second.next_cursor is None
    with pytest.raises(InvalidCursor):
        backend.index.search(backend.session, SearchQuery(backend.owner, cursor="garbage"))


def test_a_name_is_found_in_any_case(backend: Backend) -> None:
    # The owner's rows are read with LIKE without lower(): SQLite's LIKE folds ASCII case.
    a = backend.new_image("IMG_20190304_123456.JPG")
    b = backend.new_image("DSC12345.JPG")
    entries = [SearchEntry(a, "IMG_20190304_123456.JPG", []), SearchEntry(b, "DSC12345.JPG", [])]
    backend.index.index(backend.session, entries)
    assert _ids(backend, name="img_20190304_123456.jpg") == {a}
    assert b in _ids(backend, name="DSC12345")


def _page(backend: Backend, name: str | None = None, text: str | None = None) -> list[uuid.UUID]:
    query = SearchQuery(backend.owner, name=name, text=text)
    return backend.index.search(backend.session, query).image_ids


def test_terms_under_three_letters_are_contained_exact_first(backend: Backend) -> None:
    """No trigram to look up: every row in scope is read (SQLite above the crossover: FTS5's
    content in order, a lone name the owner's names), with the answers of every route."""
    exact = backend.new_image("no")  # the oldest: still first, being exact
    contains = backend.new_image("piano notes")
    other = backend.new_image("lake")
    backend.index.index(
        backend.session,
        [
            SearchEntry(exact, "no", [], [], "NO\nEXIT"),
            SearchEntry(contains, "piano notes", [], [], "I KNOW"),
            SearchEntry(other, "lake", [], [], ""),
        ],
    )
    assert _page(backend, name="no") == [exact, contains]
    assert _page(backend, text="no") == [exact, contains]
    assert _page(backend, text="ex") == [exact]
    assert _page(backend, name="ak") == [other]
    assert _page(backend, name="no", text="kn") == [contains]
    assert _page(backend, text="zz") == []
