"""The search scope copied into search rows and label and tag postings agrees with the images
on every write path: confirm, analysis (labels stored, moderation flag, rerun), moderation
clear, deletion of images and of the account; also when those writers race on one image."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import column, select, table, text

from bitimage.analysis.ports import AnalysisResult, Label
from bitimage.analysis.service import Analysis
from bitimage.bootstrap import Container
from bitimage.search.ports import SearchEntry
from tests.support import auth, make_jpeg, upload, user_id

ROUNDS = 25


def _rows_table(container: Container) -> str:
    return "image_search_rows" if container.database.dialect == "sqlite" else "image_search"


def _tables(container: Container) -> list[str]:
    """Every table that carries the scope (PostgreSQL's names' words too)."""
    words = [] if container.database.dialect == "sqlite" else ["image_search_postings"]
    return ["image_tags", "image_content_labels", _rows_table(container), *words]


def _scoped(container: Container) -> dict[str, dict[str, bool]]:
    """Every scoped table: image id -> visible, after checking each row agrees with images."""
    images = table(
        "images", column("id"), column("user_id"), column("created_at"), column("is_private"),
        column("moderation"),
    )  # fmt: skip
    found: dict[str, dict[str, bool]] = {}
    with container.database.transaction(write=False) as session:
        for name in _tables(container):
            rows = table(name, column("image_id"), column("user_id"), column("created_at"),
                         column("visible"))  # fmt: skip
            query = select(rows, images.c.id, images.c.user_id, images.c.created_at,
                           images.c.is_private, images.c.moderation).outerjoin(
                images, images.c.id == rows.c.image_id
            )  # fmt: skip
            found[name] = {}
            for image_id, owner, created, visible, *image in session.execute(query):
                assert image[0] is not None, f"a row of {name} outlived its image"
                public = not image[3] and image[4] != "flagged"
                assert (owner, created, bool(visible)) == (image[1], image[2], public), name
                found[name][str(uuid.UUID(str(image_id)))] = bool(visible)
    return found


def _confirm(client: TestClient, headers: dict[str, str], public: bool, seed: int) -> str:
    payload = make_jpeg(seed=seed)
    image = upload(
        client, headers, [payload], is_private=not public, tags=[{"name": "sea"}, {"name": "sky"}]
    )[0]
    return str(image["id"])


def _analysis(explicit: float, label: str = "person") -> Analysis:
    result = AnalysisResult(
        labels=[Label(label, 0.9), Label("animal", 0.4)],
        facts={"moderation": {"explicit_score": explicit}},
    )
    return Analysis(results={"people": result}, models={"people": "fake@1"})


def _save(container: Container, image_id: str, analysis: Analysis) -> None:
    container.database.run(
        lambda session: container.analysis.save(session, uuid.UUID(image_id), analysis)
    )


def test_confirm_copies_owner_time_and_privacy(client: TestClient, container: Container) -> None:
    headers = auth(client, "scope-confirm@example.com")
    public = _confirm(client, headers, public=True, seed=1)
    private = _confirm(client, headers, public=False, seed=2)
    scoped = _scoped(container)
    assert scoped["image_tags"] == {public: True, private: False}
    assert scoped[_rows_table(container)] == {public: True, private: False}
    for name in _tables(container)[3:]:  # the names' words: one row a word, each in scope
        assert scoped[name] == {public: True, private: False}


def test_analysis_and_moderation_keep_labels_and_rows_in_scope(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "scope-analysis@example.com")
    image = _confirm(client, headers, public=True, seed=3)
    _save(container, image, _analysis(explicit=0.1))
    assert _scoped(container)["image_content_labels"] == {image: True}
    _save(container, image, _analysis(explicit=0.99, label="face"))  # a rerun that flags
    scoped = _scoped(container)
    assert {table: rows[image] for table, rows in scoped.items()} == dict.fromkeys(scoped, False)
    answer = client.post(f"/api/v1/images/{image}/moderation/clear", headers=headers)
    assert answer.status_code == 204, answer.text
    scoped = _scoped(container)
    assert {table: rows[image] for table, rows in scoped.items()} == dict.fromkeys(scoped, True)
    _save(container, image, _analysis(explicit=0.99))  # cleared by a person: not flagged again
    assert _scoped(container)["image_content_labels"] == {image: True}


def test_deleting_images_and_accounts_leaves_no_scoped_row(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "scope-delete@example.com")
    first, second = (_confirm(client, headers, public=True, seed=n) for n in (4, 5))
    for image in (first, second):
        _save(container, image, _analysis(explicit=0.0))
    answer = client.delete(f"/api/v1/images?id={first}", headers=headers)
    assert answer.status_code == 204, answer.text
    assert all(set(rows) == {second} for rows in _scoped(container).values())
    me = user_id(client, headers)
    assert client.delete(f"/api/v1/users/{me}", headers=headers).status_code == 204
    assert all(rows == {} for rows in _scoped(container).values())


def _race(*works: Callable[[], object]) -> list[BaseException]:
    """Run the works at once in threads; the exceptions they raised."""
    start = threading.Barrier(len(works), timeout=30)
    failures: list[BaseException] = []

    def run(work: Callable[[], object]) -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:  # reported by the caller
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return failures


def test_racing_moderation_and_analysis_writes_agree_with_the_image(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "scope-race@example.com")
    image = _confirm(client, headers, public=True, seed=6)
    bound = uuid.UUID(image) if container.database.dialect != "sqlite" else uuid.UUID(image).hex

    def clear() -> None:
        answer = client.post(f"/api/v1/images/{image}/moderation/clear", headers=headers)
        assert answer.status_code == 204, answer.text

    for round_number in range(ROUNDS):
        with container.database.transaction() as session:
            # Unmoderated again, as a fresh image: the next analysis may flag it.
            session.execute(
                text("UPDATE images SET moderation = 'none' WHERE id = :i"), {"i": bound}
            )
            container.search_index.rescope(session, [uuid.UUID(image)])
        flagging, relabelling = _analysis(0.99, f"w{round_number}"), _analysis(0.0, "r")
        failures = _race(
            functools.partial(_save, container, image, flagging),
            clear,
            functools.partial(_save, container, image, relabelling),
        )
        assert failures == [], f"round {round_number}: {failures!r}"
        scoped = _scoped(container)  # every row agrees with the image, whichever order won
        assert len({rows[image] for rows in scoped.values()}) == 1


def _name_words(container: Container, image: str) -> list[str]:
    """The words PostgreSQL's name postings hold for the image (sorted)."""
    with container.database.transaction(write=False) as session:
        found = session.execute(
            text("SELECT word FROM image_search_postings WHERE image_id = :i ORDER BY word"),
            {"i": uuid.UUID(image)},
        )
        return list(found.scalars())


def _row_name(container: Container, image: str) -> str:
    with container.database.transaction(write=False) as session:
        found = session.execute(
            text("SELECT name FROM image_search_rows WHERE image_id = :i"),
            {"i": uuid.UUID(image).hex},
        )
        return str(found.scalar_one())


def test_a_patch_moves_the_scope_and_replaces_the_names_words(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "scope-patch@example.com")
    image = _confirm(client, headers, public=True, seed=7)
    body = {"is_private": True, "name": "Harbour_2019 dusk.JPG"}
    answer = client.patch(f"/api/v1/images/{image}", headers=headers, json=body)
    assert answer.status_code == 200, answer.text
    scoped = {
        table: rows for table, rows in _scoped(container).items() if table != "image_content_labels"
    }
    assert {table: rows[image] for table, rows in scoped.items()} == dict.fromkeys(scoped, False)
    if container.database.dialect == "postgresql":
        assert _name_words(container, image) == ["2019", "dusk", "harbour", "jpg"]
    else:  # the name beside the owner, which an owner's name search reads (migration 0015)
        assert _row_name(container, image) == "Harbour_2019 dusk.JPG"
    found = client.get("/api/v1/images/private/summary?name=harbour_2019%20d", headers=headers)
    assert [item["id"] for item in found.json()["images"]] == [image]


def test_new_words_of_names_written_at_once_land_once(
    client: TestClient, container: Container
) -> None:
    # Check-then-act in the vocabulary: writers of different images add the same new words at
    # the same moment (ON CONFLICT DO NOTHING, in sorted order so neither waits on the other in
    # a cycle). Every round uses words no image had before. On SQLite the index writes its own
    # rows; the same race holds there too.
    headers = auth(client, "words-at-once@example.com")
    uploaded = upload(client, headers, [make_jpeg(seed=seed) for seed in range(5)])
    images = [uuid.UUID(image["id"]) for image in uploaded]
    index = container.search_index
    for round_number in range(8):
        words = [f"zebra{round_number}", f"quokka{round_number}", f"x{round_number}42"]

        def write(image_id: uuid.UUID, order: list[str]) -> None:
            with container.database.transaction() as session:
                name = "_".join(order) + ".jpg"
                index.index(session, [SearchEntry(image_id=image_id, name=name, tags=())])

        failures = _race(
            *(
                functools.partial(write, image_id, words[n % 3 :] + words[: n % 3])
                for n, image_id in enumerate(images)
            )
        )
        assert failures == [], f"round {round_number}: {failures!r}"
        if container.database.dialect == "postgresql":
            with container.database.transaction(write=False) as session:
                counted = session.execute(
                    text("SELECT word, count(*) FROM image_search_words WHERE word = ANY(:w)"
                         " GROUP BY word"), {"w": words}
                ).all()  # fmt: skip
                postings = session.execute(
                    text("SELECT count(*) FROM image_search_postings WHERE word = ANY(:w)"),
                    {"w": words},
                ).scalar_one()
            assert sorted(counted) == sorted((word, 1) for word in words)
            assert postings == len(images) * len(words)
