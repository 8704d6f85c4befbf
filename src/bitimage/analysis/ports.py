"""The analyser port: each analyser looks at one decoded image and returns what it saw."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Label:
    """A content label ("tabby cat", "animal", "green") with its confidence in [0, 1]."""

    name: str
    confidence: float


@dataclass(frozen=True)
class DecodedImage:
    """An image decoded once for every analyser: RGB, upright, at most `WORK_SIZE` a side."""

    pixels: Image.Image
    original_width: int
    original_height: int
    exif: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnalysisResult:
    """What one analyser found; `facts` are extra fields for the expanded view.

    `embedding`: a unit vector for visually similar images (the classifier's), stored apart.
    """

    labels: list[Label] = field(default_factory=list)
    text: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray[Any, Any] | None = None


class Analyser(Protocol):
    """One model or algorithm; `name` and `model` are stored with every label it gives."""

    name: str
    model: str

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        """Look at the image; raise to have the job retried."""
        ...
