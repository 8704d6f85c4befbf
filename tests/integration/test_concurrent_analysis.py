"""Workers analysing different images at once, finding the same new labels: each label is
created once, and no worker fails on the label's unique name."""

from __future__ import annotations

import threading
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bitimage.analysis.ports import AnalysisResult, DecodedImage, Label
from bitimage.bootstrap import Container
from bitimage.images.models import ContentLabel
from tests.support import auth, make_jpeg, upload

ROUNDS = 20
WORKERS = 5


class RoundLabeller:
    """Labels every picture with this round's new words (given in reverse name order)."""

    name = "round"
    model = "fake@1"

    def __init__(self) -> None:
        self.words: list[str] = []

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        return AnalysisResult(labels=[Label(word, 0.5) for word in reversed(self.words)])


def test_the_same_new_labels_found_at_once_are_created_once(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "labels-at-once@example.com")
    payloads = [make_jpeg(seed=k) for k in range(WORKERS)]
    ids = [uuid.UUID(image["id"]) for image in upload(client, headers, payloads)]
    labeller = RoundLabeller()
    container.analysis.analysers = [labeller]
    for round_number in range(ROUNDS):
        labeller.words = [f"word{round_number}a", f"word{round_number}b"]
        start = threading.Barrier(WORKERS, timeout=30)
        failures: list[BaseException] = []

        def analyse(
            image_id: uuid.UUID,
            start: threading.Barrier = start,
            failures: list[BaseException] = failures,
        ) -> None:
            start.wait()
            try:
                assert container.analysis_tasks.analyse_image(image_id) is True
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

        threads = [threading.Thread(target=analyse, args=(image_id,)) for image_id in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == [], f"round {round_number}: {failures!r}"
        with container.database.transaction(write=False) as session:
            count = session.scalar(
                select(func.count())
                .select_from(ContentLabel)
                .where(ContentLabel.name.in_(labeller.words))
            )
        assert count == 2
