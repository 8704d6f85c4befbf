"""A content_label query means the analysers' word: that label alone, on both databases.

"face" finds faces and never a palace or a surface, a typo or a synonym finds the word it
means, and a term no word explains is matched as before (contains, then similar), alone, with
a tag, and with a name.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from bitimage.analysis.ports import Label
from bitimage.analysis.repository import AnalysisRepository
from bitimage.bootstrap import Container
from bitimage.images.repository import ImageRepository
from bitimage.search.ports import SearchEntry, SearchQuery
from tests.support import add_image_row, add_user, set_tags

# image name -> its labels (name, confidence); every image tagged "trip"
PHOTOS = {
    "portrait": [("face", 0.8), ("person", 0.8)],
    "royal palace": [("palace", 0.9), ("building", 0.9)],
    "wall": [("surface", 0.7)],
    "kitchen cat": [("cat", 0.6), ("animal", 0.6)],
    "zorblat photo": [("zorblat", 0.5)],
    "zorblats photo": [("zorblats", 0.4)],
}


_NAMES: dict[uuid.UUID, str] = {}


def _ids(session: Session, container: Container, **filters: str) -> set[str]:
    """The names of the public images the filters find."""
    query = SearchQuery(None, limit=100, **filters)  # type: ignore[arg-type]
    return {_NAMES[i] for i in container.search_index.search(session, query).image_ids}


@pytest.fixture
def photos(container: Container) -> Container:
    with container.database.transaction() as session:
        owner = add_user(session)
        labels = AnalysisRepository(session)
        entries = []
        for name, found in PHOTOS.items():
            image_id = add_image_row(session, owner, name, is_private=False)
            _NAMES[image_id] = name
            set_tags(session, image_id, ["trip"])
            labels.replace_labels(image_id, "a1", "m", [Label(n, c) for n, c in found])
            entries.append(SearchEntry(image_id, name, ["trip"], [n for n, _ in found]))
        container.search_index.index(session, entries)
    return container


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("face", {"portrait"}),  # not "royal palace" (similar) nor "wall" (surface contains it)
        ("Face", {"portrait"}),
        ("facr", {"portrait"}),  # a typo: the nearest word
        ("cta", {"kitchen cat"}),
        ("kitten", {"kitchen cat"}),  # a synonym
        ("building", {"royal palace"}),
        ("dog", set()),  # a word no image has: nothing, not the nearest image
        ("zorblat", {"zorblat photo", "zorblats photo"}),  # no word explains it: as before
    ],
)
@pytest.mark.parametrize("with_tag", [False, True])
def test_a_label_word_finds_that_label_alone(
    photos: Container, term: str, found: set[str], with_tag: bool
) -> None:
    filters = {"label": term, **({"tag": "trip"} if with_tag else {})}
    with photos.database.transaction(write=False) as session:
        assert _ids(session, photos, **filters) == found


def test_with_a_name_the_label_word_is_exact_in_both_tiers(photos: Container) -> None:
    with photos.database.transaction(write=False) as session:
        assert _ids(session, photos, label="face", name="portrait") == {"portrait"}
        assert _ids(session, photos, label="face", name="palace") == set()  # strong and fuzzy
        assert _ids(session, photos, label="face", name="portrat") == {"portrait"}  # fuzzy name


def test_pages_of_a_label_word_follow_confidence_then_newest(container: Container) -> None:
    with container.database.transaction() as session:
        owner = add_user(session)
        labels, images = AnalysisRepository(session), ImageRepository(session)
        expected = []
        for n in range(12):
            image_id = add_image_row(session, owner, f"img {n}")
            confidence = [0.9, 0.5, 0.5, 0.2][n % 4]
            labels.replace_labels(image_id, "a1", "m", [Label("cat", confidence)])
            labels.replace_labels(image_id, "a2", "m", [Label("palace", 0.99)])
            image = images.get(image_id)
            assert image is not None
            expected.append((confidence, image.created_at, image_id.hex, image_id))
        want = [key[-1] for key in sorted(expected, reverse=True)]
        for limit in (1, 5, 100):
            got: list[uuid.UUID] = []
            cursor = None
            while True:
                query = SearchQuery(owner, label="cta", limit=limit, cursor=cursor)
                page = container.search_index.search(session, query)
                got += page.image_ids
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert got == want, limit
