"""The embedding's store is a replace (check-then-act): workers saving the same image's vector at
once leave one row (in every table of the index) and no failure; an image deleted before the save
leaves no vector behind."""

from __future__ import annotations

import threading
import uuid

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import text

from bitimage.analysis.ports import AnalysisResult, DecodedImage
from bitimage.bootstrap import Container
from bitimage.images.models import Image as ImageRow
from tests.support import auth, make_jpeg, upload

WORKERS = 5
ROUNDS = 5


class Embedder:
    """Gives every picture the same unit vector along axis `axis` (set between rounds)."""

    name = "embedder"
    model = "fake@1"

    def __init__(self) -> None:
        self.axis = 0

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        vector = np.zeros(1280, np.float32)
        vector[self.axis] = 1.0
        return AnalysisResult(embedding=vector)


def _vectors(container: Container) -> int:
    """Embeddings stored; on PostgreSQL the IVF's and pgvector's rows must agree with them."""
    tables = ["image_search_vectors", "image_vector_lists"]
    if container.database.dialect == "postgresql":
        tables.append("image_vectors_hnsw")
    with container.database.transaction(write=False) as session:
        counts = {
            int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
            for table in tables
        }
    assert len(counts) == 1, counts
    return counts.pop()


def test_one_image_saved_by_several_workers_at_once_keeps_one_vector(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "vectors-at-once@example.com")
    uploaded = upload(client, headers, [make_jpeg(seed=1), make_jpeg(seed=2)])
    first, second = (uuid.UUID(image["id"]) for image in uploaded)
    embedder = Embedder()
    container.analysis.analysers = [embedder]
    for round_number in range(ROUNDS):
        embedder.axis = round_number
        start = threading.Barrier(WORKERS, timeout=30)
        failures: list[BaseException] = []

        def analyse(
            start: threading.Barrier = start, failures: list[BaseException] = failures
        ) -> None:
            start.wait()
            try:
                assert container.analysis_tasks.analyse_image(first) is True
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

        threads = [threading.Thread(target=analyse) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == [], f"round {round_number}: {failures!r}"
        assert _vectors(container) == 1
    # The other image gets the same direction: similarity 1 to the vector of the last round.
    assert container.analysis_tasks.analyse_image(second) is True
    with container.database.transaction(write=False) as session:
        owner = session.get(ImageRow, first)
        assert owner is not None
        assert container.duplicates.vectors.nearest(session, first, None, 5) == []  # private
        (found,) = container.duplicates.vectors.nearest(session, first, owner.user_id, 5)
    assert found.image_id == second
    assert abs(found.similarity - 1.0) < 1e-5


def test_an_image_deleted_before_the_save_leaves_no_vector(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "gone-first@example.com")
    (image,) = upload(client, headers, [make_jpeg(seed=3)])
    container.analysis.analysers = [Embedder()]
    image_id = uuid.UUID(image["id"])
    # The models ran (outside any transaction); the owner deletes the image; then the save.
    with container.database.transaction(write=False) as session:
        key = container.analysis.storage_key(session, image_id)
    assert key is not None
    analysis = container.analysis.analyse(key)
    assert analysis is not None
    assert analysis.results["embedder"].embedding is not None
    assert client.delete(f"/api/v1/images?id={image_id}", headers=headers).status_code == 204
    with container.database.transaction() as session:
        assert container.analysis.save(session, image_id, analysis) is False
    assert _vectors(container) == 0
