"""Moderation through the analysis job and ImageService with fakes: flag, hide, clear."""

from __future__ import annotations

import uuid

import pytest

from bitimage.analysis.ports import AnalysisResult, DecodedImage
from bitimage.analysis.service import AnalysisService
from bitimage.errors import NotFound
from bitimage.search.vectors_ivf import IvfVectorIndex
from tests.unit.services import Services, jpeg

THRESHOLD = 0.6


class ModerationScore:
    """An analyser that sees the explicit score it is given, as the moderation model reports it."""

    name = "moderation"
    model = "fake"

    def __init__(self, score: float) -> None:
        self.score = score

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        """The score, in the facts the expanded view shows."""
        return AnalysisResult(facts={"moderation": {"explicit_score": self.score, "classes": {}}})


def _analysed_public_image(services: Services, owner: uuid.UUID, score: float) -> uuid.UUID:
    """Confirm a public image, then run its analyze job from the (fake) queue."""
    (item,) = services.stage(owner, [jpeg(1)])
    (image,) = services.uploads.confirm(owner, [item.model_copy(update={"is_private": False})])
    services.relay()
    job = services.queue.reserve(0)
    assert job is not None
    assert job.image_id == image.id
    analysis = AnalysisService(
        services.store,
        services.search,
        IvfVectorIndex(),
        lambda: [ModerationScore(score)],
        10**6,
        THRESHOLD,
    )
    services.analysis_tasks(analysis).handle(job)
    services.queue.delete(job)
    return image.id


def test_an_image_over_the_threshold_is_flagged_and_hidden_from_everyone_but_its_owner(
    services: Services,
) -> None:
    owner, stranger = services.new_user(), services.new_user()
    image_id = _analysed_public_image(services, owner, 0.9)
    with pytest.raises(NotFound):
        services.uow(lambda s: services.images.visible_image(s, stranger, image_id))
    with pytest.raises(NotFound):
        services.uow(lambda s: services.images.visible_image(s, None, image_id))
    expanded = services.uow(lambda s: services.images.expanded(s, owner, image_id))
    assert expanded.moderation is not None
    assert expanded.moderation.status == "flagged"
    assert expanded.moderation.explicit_score == 0.9


@pytest.mark.parametrize("by_operator", [False, True])
def test_a_person_clears_a_flag_the_owner_or_operator_only_and_it_stays_cleared(
    services: Services, by_operator: bool
) -> None:
    owner, stranger = services.new_user(), services.new_user()
    image_id = _analysed_public_image(services, owner, 0.9)
    with pytest.raises(NotFound):
        services.uow(lambda s: services.images.clear_moderation(s, image_id, stranger))
    with pytest.raises(NotFound):
        services.uow(lambda s: services.images.visible_image(s, stranger, image_id))
    clearer = None if by_operator else owner  # None: the operator's CLI
    services.uow(lambda s: services.images.clear_moderation(s, image_id, clearer))
    seen = services.uow(lambda s: services.images.visible_image(s, stranger, image_id))
    assert seen.moderation == "cleared"
    # Analysed again (a model upgrade): a person's decision is not overturned.
    analysis = AnalysisService(
        services.store,
        services.search,
        IvfVectorIndex(),
        lambda: [ModerationScore(0.95)],
        10**6,
        THRESHOLD,
    )
    assert services.analysis_tasks(analysis).analyse_image(image_id)
    again = services.uow(lambda s: services.images.visible_image(s, stranger, image_id))
    assert again.moderation == "cleared"


def test_an_image_under_the_threshold_stays_public(services: Services) -> None:
    owner, stranger = services.new_user(), services.new_user()
    image_id = _analysed_public_image(services, owner, THRESHOLD - 0.01)
    seen = services.uow(lambda s: services.images.visible_image(s, stranger, image_id))
    assert seen.moderation == "none"
    assert seen.analysis_status == "done"
