"""Search semantics through the real SQLite index: tiers, AND of filters, paging across tiers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from bitimage.bootstrap import Container
from bitimage.config import Settings
from bitimage.search.sqlite import SqliteSearchIndex
from tests.databases import empty_tables
from tests.support import auth, make_container, make_jpeg, md5, stage

FTS = "sqlite-fts"  # SQLite, every private search through FTS5 (as owners above the crossover)


@pytest.fixture(params=["sqlite", FTS, "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite through both private plans (the owner's rows, FTS5), and PostgreSQL."""
    if request.param != "postgresql":
        return f"sqlite:///{tmp_path / 'bitimage.db'}"
    url: str = request.getfixturevalue("postgres_url")
    empty_tables(url)
    return url


@pytest.fixture
def container(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Container]:
    built = make_container(settings)
    if request.node.callspec.params["database_url"] == FTS:
        assert isinstance(built.search_index, SqliteSearchIndex)
        built.search_index.owner_scan = 0  # no owner is under the crossover
    yield built
    built.close()


def _confirm(
    client: TestClient, headers: dict[str, str], items: list[tuple[str, list[str]]]
) -> None:
    for start in range(0, len(items), 5):
        chunk = items[start : start + 5]
        payloads = [make_jpeg(seed=hash(name) % 10_000 + n) for n, (name, _) in enumerate(chunk)]
        ids = stage(client, headers, payloads)
        body = {
            "images": [
                {
                    "id": i,
                    "name": name,
                    "hash": md5(p),
                    "is_private": True,
                    "tags": [{"name": t} for t in tags],
                }
                for i, p, (name, tags) in zip(ids, payloads, chunk, strict=True)
            ]
        }
        assert client.post("/api/v1/images", headers=headers, json=body).status_code == 201


def _names(client: TestClient, headers: dict[str, str], query: str) -> list[str]:
    answer = client.get(f"/api/v1/images/private/summary?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    return [image["name"] for image in answer.json()["images"]]


def _paged_names(client: TestClient, headers: dict[str, str], query: str, pages: int) -> list[str]:
    """The names of every page of `query` (at most `pages`), following next_cursor."""
    seen: list[str] = []
    cursor = ""
    for _ in range(pages):
        answer = client.get(f"/api/v1/images/private/summary?{query}{cursor}", headers=headers)
        assert answer.status_code == 200, answer.text
        seen += [image["name"] for image in answer.json()["images"]]
        if answer.json()["next_cursor"] is None:
            break
        cursor = f"&cursor={answer.json()['next_cursor']}"
    return seen


def test_ranking_tiers(client: TestClient) -> None:
    headers = auth(client, "search@example.com")
    _confirm(
        client,
        headers,
        [
            ("sunset", ["sky"]),
            ("sunset beach", ["sea"]),
            ("my sunset", []),
            ("sunsett", []),
            ("moon", []),
        ],
    )
    # exact first, then the other substrings newest first, then the typo ("sunsett" contains it)
    assert _names(client, headers, "name=sunset") == [
        "sunset",
        "sunsett",
        "my sunset",
        "sunset beach",
    ]
    typo = _names(client, headers, "name=sunzet")
    assert set(typo) <= {"sunset", "sunsett", "my sunset", "sunset beach"}
    assert typo[0] == "sunset"  # most similar first
    assert _names(client, headers, "name=su&tag=sk") == ["sunset"]  # short terms: substring
    assert _names(client, headers, "name=moon&tag=sky") == []
    assert _names(client, headers, "name=xyzzy") == []


def test_paging_visits_every_match_once(client: TestClient) -> None:
    headers = auth(client, "pages@example.com")
    none: list[str] = []
    items = [(f"cat {n}", none) for n in range(7)] + [(f"kat {n}", none) for n in range(4)]
    items.append(("dog", none))
    _confirm(client, headers, items)
    seen = _paged_names(client, headers, "name=cat&limit=3", 20)
    strong = [f"cat {n}" for n in range(6, -1, -1)]
    assert seen[:7] == strong
    assert len(seen) == len(set(seen))
    assert "dog" not in seen


def test_paging_crosses_from_exact_names_to_containing_ones(client: TestClient) -> None:
    """Exact names first (newest first), then the names containing the term, page by page."""
    headers = auth(client, "exact-pages@example.com")
    none: list[str] = []
    items = [("tree", none), ("old tree", none), ("tree", none), ("treehouse", none)]
    items += [("tree", none), ("my tree", none), ("tre", none)]
    _confirm(client, headers, items)
    seen = _paged_names(client, headers, "name=tree&limit=2", 10)
    # Confirmed in this order, so the later ones are newer; "tre" is only similar: last.
    assert seen == ["tree", "tree", "tree", "my tree", "treehouse", "old tree", "tre"]


def test_a_long_name_with_a_typo_is_found(client: TestClient) -> None:
    # On SQLite's owner scan a long term's typo candidates share one of 4 of its trigrams.
    headers = auth(client, "long@example.com")
    _confirm(client, headers, [("IMG_20190304_123456.JPG", []), ("DSC12345.JPG", [])])
    assert _names(client, headers, "name=img_20190304_128456.jpg") == ["IMG_20190304_123456.JPG"]
    assert _names(client, headers, "name=IMG_20190304_123456.jpg") == ["IMG_20190304_123456.JPG"]


def test_a_part_of_a_name_across_its_separators_finds_every_name_holding_it(
    client: TestClient,
) -> None:
    """Camera names and words: a term starting or ending inside a word, or spanning several
    (PostgreSQL reads them through the names' words), finds exactly the names containing it,
    newest first, before any merely similar name."""
    headers = auth(client, "name-parts@example.com")
    names = ["IMG_20200313_141726.jpg", "img_20200313_141727.jpg", "img_20200314_1417.jpg",
             "dsc_2020.jpg", "summer 2020 sunset.jpg", "Café_2020.png"]  # fmt: skip
    _confirm(client, headers, [(name, []) for name in names])
    newest = names[::-1]  # confirmed in order: later is newer
    for term in ("0313_14", "_2020", "é_20", "20 s", "mer 20", "1417", "img_2020031", "caf"):
        holding = [name for name in newest if term in name.lower()]
        found = _names(client, headers, f"name={quote(term)}&limit=20")
        assert found[: len(holding)] == holding, term
        assert not any(term in name.lower() for name in found[len(holding) :]), term
    # The containing names page by page, two at a time.
    seen = _paged_names(client, headers, "name=_2020&limit=2", 10)
    assert seen[:5] == [name for name in newest if "_2020" in name.lower()]
    assert len(seen) == len(set(seen))
