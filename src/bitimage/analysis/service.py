"""Runs every analyser on one image and stores all their results in one transaction."""

from __future__ import annotations

import logging
import uuid
import threading
from collections.abc import Callable, Sequence

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from bitimage.analysis.decode import decode
from bitimage.analysis.ports import Analyser, AnalysisResult
from bitimage.analysis.repository import AnalysisRepository
from bitimage.db.session import Database
from bitimage.images.repository import ImageRepository
from bitimage.search.ports import SearchIndex
from bitimage.storage.ports import ObjectStore
from bitimage.worker import PermanentJobError

log = logging.getLogger("bitimage.analysis")


class AnalysisService:
    """Analyse an image: read its bytes, decode once, run each analyser, store the results."""

    def __init__(
        self,
        database: Database,
        store: ObjectStore,
        search: SearchIndex,
        analysers: Callable[[], Sequence[Analyser]],
        max_pixels: int,
    ) -> None:
        self.database = database
        self.store = store
        self.search = search
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

    def analyse_image(self, image_id: uuid.UUID) -> bool:
        """Analyse and store; False when the image no longer exists (nothing to do)."""
        with self.database.transaction(write=False) as session:
            image = ImageRepository(session).get(image_id)
            key = None if image is None else image.storage_key
        if key is None:
            return False
        try:
            with self.store.open(key) as stream:
                decoded = decode(stream, self.max_pixels)
        except FileNotFoundError:
            return False  # deleted since: its rows are going too
        except (UnidentifiedImageError, PILImage.DecompressionBombError, OSError) as exc:
            raise PermanentJobError(f"the image cannot be decoded: {exc}") from exc
        analysers = self.analysers
        results = {analyser.name: analyser.analyse(decoded) for analyser in analysers}
        models = {analyser.name: analyser.model for analyser in analysers}
        return self._store(image_id, results, models)

    def _store(
        self, image_id: uuid.UUID, results: dict[str, AnalysisResult], models: dict[str, str]
    ) -> bool:
        with self.database.transaction() as session:
            repo = AnalysisRepository(session)
            image = repo.lock_image(image_id)
            if image is None:
                return False
            facts: dict[str, object] = {}
            for name, result in results.items():
                repo.replace_labels(image_id, name, models[name], result.labels)
                facts.update(result.facts)
                if result.text is not None:
                    facts[f"{name}_text"] = result.text
            repo.finish(image, facts)
            tags = ImageRepository(session).tags_of([image_id]).get(image_id, [])
            self.search.index(
                session, image_id, image.name, [t.name for t in tags], repo.label_names(image_id)
            )
        return True

    def mark_failed(self, image_id: uuid.UUID, reason: str) -> None:
        """The analysis gave up: say so on the image."""
        with self.database.transaction() as session:
            AnalysisRepository(session).mark_failed(image_id, reason)
