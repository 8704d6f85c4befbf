"""An explicit-content score for moderation, from NudeNet's detector (opt-in: AGPL-3.0).

Faces and people are labelled by the default `faces` analyser (faces.py, Apache-2.0 weights);
this one only scores nudity, so it gives no labels.

The detector is the YOLOv8 ONNX graph inside the PyPI package `nudenet` (320n.onnx, 320 px
input); nothing is downloaded. NudeNet's own constructor opens the session with default options
(all cores, spinning threads), so this module opens it with ours and lends it to NudeNet's
`detect`, which does the letterboxing, the decoding of boxes and the non-maximum suppression.
"""

from __future__ import annotations

from importlib import metadata, resources
from typing import Any

import numpy as np
from nudenet import NudeDetector  # type: ignore[import-untyped]

from bitimage.analysis.onnx import open_session
from bitimage.analysis.ports import AnalysisResult, DecodedImage

PACKAGE = "nudenet"
MODEL_FILE = "320n.onnx"
INPUT_SIZE = 320  # the graph's input side (its metadata says imgsz [320, 320])
EXPLICIT_THRESHOLD = 0.6  # an explicit_score at or above this flags the image for review
# Exposed parts that make a picture explicit; exposed feet, belly, armpits or a male chest
# do not (a beach photo is not explicit).
EXPLICIT_CLASSES = frozenset(
    {
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)


class _SessionDetector(NudeDetector):  # type: ignore[misc]
    """NudeNet's detector on a session opened by us: its constructor takes no session options."""

    def __init__(self, session: Any) -> None:  # the parent's would open a second session
        self.onnx_session = session
        self.input_name = session.get_inputs()[0].name
        self.input_width = self.input_height = INPUT_SIZE


def best_scores(detections: list[dict[str, Any]]) -> dict[str, float]:
    """The best score of every detected class, best first."""
    scores: dict[str, float] = {}
    for detection in detections:
        name, score = str(detection["class"]), float(detection["score"])
        scores[name] = max(scores.get(name, 0.0), score)
    return dict(sorted(scores.items(), key=lambda item: -item[1]))


class PeopleAnalyser:
    """facts["moderation"]: the explicit-content score and NudeNet's classes; no labels."""

    name = "people"

    def __init__(self, threads: int = 1) -> None:
        self.model = f"nudenet@{metadata.version(PACKAGE)}"
        model_file = resources.files(PACKAGE).joinpath(MODEL_FILE)
        self._detector = _SessionDetector(open_session(str(model_file), threads))

    def detect(self, pixels: np.ndarray[Any, np.dtype[np.uint8]]) -> list[dict[str, Any]]:
        """NudeNet's detections ({"class", "score", "box"}) of an H x W x 3 RGB array."""
        # NudeNet reads files with cv2, in BGR order, and feeds arrays through unchanged: BGR
        # keeps its scores those of a file (RGB differs, e.g. spurious nudity in a coffee cup).
        bgr = np.ascontiguousarray(pixels[:, :, ::-1])
        return list(self._detector.detect(bgr))

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        """The best score of each class NudeNet found, and explicit_score (the exposed parts)."""
        pixels = image.pixels if image.pixels.mode == "RGB" else image.pixels.convert("RGB")
        scores = best_scores(self.detect(np.asarray(pixels)))
        explicit = max((s for c, s in scores.items() if c in EXPLICIT_CLASSES), default=0.0)
        moderation = {
            "explicit_score": round(explicit, 4),
            "classes": {c: round(s, 4) for c, s in scores.items()},
        }
        return AnalysisResult(facts={"moderation": moderation})
