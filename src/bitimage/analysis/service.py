"""Runs every analyser on one image, and stores all their results in the session it is given."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bitimage import metrics
from bitimage.analysis.decode import decode
from bitimage.analysis.ports import Analyser, AnalysisResult, DecodedImage
from bitimage.analysis.repository import AnalysisRepository
from bitimage.images.repository import ImageRepository
from bitimage.imaging import UnsupportedImage
from bitimage.queue.outbox import enqueue_analysis
from bitimage.queue.worker import JobFailed, PermanentJobError
from bitimage.search.ports import SearchIndex
from bitimage.search.vectors import VectorIndex
from bitimage.storage.ports import ObjectStore

log = logging.getLogger("bitimage.analysis")


@dataclass(frozen=True)
class Analysis:
    """What the analysers found in one image, by analyser name, and the model each used."""

    results: dict[str, AnalysisResult]
    models: dict[str, str]


class AnalysisService:
    """Analyse an image: read its bytes, decode once, run each analyser, store the results."""

    def __init__(
        self,
        store: ObjectStore,
        search: SearchIndex,
        vectors: VectorIndex,
        analysers: Callable[[], Sequence[Analyser]],
        max_pixels: int,
        moderation_threshold: float = 0.6,
    ) -> None:
        self.moderation_threshold = moderation_threshold
        self.store = store
        self.search = search
        self.vectors = vectors
        self.max_pixels = max_pixels
        self._load = analysers
        self._loaded: list[Analyser] | None = None
        self._lock = threading.Lock()

    @property
    def analysers(self) -> list[Analyser]:
        """The analysers, loaded on first use: a process that never analyses loads no model."""
        with self._lock:
            if self._loaded is None:
                self._loaded = list(self._load())
            return self._loaded

    @analysers.setter
    def analysers(self, value: Sequence[Analyser]) -> None:
        with self._lock:
            self._loaded = list(value)

    def storage_key(self, session: Session, image_id: uuid.UUID) -> str | None:
        """Where the image's bytes are; None once it is deleted."""
        image = ImageRepository(session).get(image_id)
        return None if image is None else image.storage_key

    def analyse(self, key: str, only: Sequence[str] | None = None) -> Analysis | None:
        """Decode the bytes at `key` and run the analysers (with `only`: just those).

        Holds no transaction: this is where the models run. None if the bytes are gone.
        """
        try:
            with self.store.open(key) as stream:
                decoded = decode(stream, self.max_pixels)
        except FileNotFoundError:
            return None  # deleted since: its rows are going too
        except (UnsupportedImage, OSError, ValueError, SyntaxError) as exc:
            # The owner reads the short reason; the worker logs `exc`, the cause.
            raise PermanentJobError("could not decode the image") from exc
        analysers = [a for a in self._loaded_analysers() if only is None or a.name in only]
        return Analysis(
            results={analyser.name: _run(analyser, decoded) for analyser in analysers},
            models={analyser.name: analyser.model for analyser in analysers},
        )

    def _loaded_analysers(self) -> list[Analyser]:
        try:
            return self.analysers
        except Exception as exc:
            raise JobFailed(f"the analysers could not be loaded: {type(exc).__name__}") from exc

    def save(self, session: Session, image_id: uuid.UUID, analysis: Analysis) -> bool:
        """Store every result of `analysis` in the session; False if the image is gone."""
        results, models = analysis.results, analysis.models
        repo = AnalysisRepository(session)
        # The image row first, as every writer locks it (ImageRepository.lock).
        image = repo.lock_image(image_id)
        if image is None:
            return False
        facts: dict[str, Any] = {}
        # Every new label in one sorted insert: two workers never take them in crossed order.
        repo.ensure_labels(label.name for result in results.values() for label in result.labels)
        for name, result in results.items():
            repo.replace_labels(image_id, name, models[name], result.labels)
            facts.update(result.facts)
            if result.text is not None or name == "text":
                facts["text"] = result.text
            if result.embedding is not None:
                self.vectors.put(session, image_id, result.embedding)
        repo.finish(image, facts)
        merged = image.analysis_facts or {}
        explicit = float(merged.get("moderation", {}).get("explicit_score", 0))
        if explicit >= self.moderation_threshold and image.moderation == "none":
            image.moderation = "flagged"  # hidden from the public until a person clears it
            self.search.rescope(session, [image_id])
        self.search.index(session, [ImageRepository(session).search_entry(image)])
        return True

    def reanalyze(
        self,
        session: Session,
        image_ids: Sequence[uuid.UUID] | None,
        analysers: list[str] | None = None,
    ) -> int:
        """Queue images again (None: every image), e.g. after a model upgrade; how many."""
        if image_ids is None:
            ids = AnalysisRepository(session).all_image_ids()
        else:
            found = ImageRepository(session).get_many(image_ids)
            ids = [image_id for image_id in image_ids if image_id in found]
        for start in range(0, len(ids), 500):
            enqueue_analysis(session, ids[start : start + 500], analysers)
        return len(ids)

    def mark_failed(self, session: Session, image_id: uuid.UUID, reason: str) -> None:
        """The analysis gave up: say so on the image (`reason` is shown to its owner)."""
        AnalysisRepository(session).mark_failed(image_id, reason)


def _run(analyser: Analyser, decoded: DecodedImage) -> AnalysisResult:
    started = time.perf_counter()
    try:
        result = analyser.analyse(decoded)
    except Exception as exc:
        metrics.ANALYSES.labels(analyser.name, "failed").inc()
        # Its message may name a model file or a path: the owner sees the class alone.
        raise JobFailed(f"the {analyser.name} analyser failed: {type(exc).__name__}") from exc
    metrics.ANALYSIS_SECONDS.labels(analyser.name).observe(time.perf_counter() - started)
    metrics.ANALYSES.labels(analyser.name, "ok").inc()
    return result
