"""Faces and people ("face", "person", "people") from MediaPipe's BlazeFace on ONNX Runtime.

The model is BlazeFace short-range (face_detection_short_range.tflite, 230 KB, Apache-2.0, from
the `mediapipe` 0.10.21 wheel), shipped in data/ with its licence; on first use it is converted
to ONNX (faces_build.py) and cached beside the classifier's model, one file per revision. The
anchors, box decoding and weighted non-maximum suppression follow MediaPipe's graph for this
model (face_detection_short_range.pbtxt: SsdAnchorsCalculator, TensorsToDetectionsCalculator).
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bitimage.analysis.onnx import open_session
from bitimage.analysis.ports import AnalysisResult, DecodedImage, Label

log = logging.getLogger(__name__)

MODEL_RESOURCE = "data/face_detection_short_range.tflite"
GRAPH_REVISION = 2  # bump when faces_build changes the graph, so cached files are rebuilt
SIDE = 128  # the graph's input side (faces_build.INPUT_SIDE)
# MediaPipe's calculator options for the short-range model.
STRIDES = (8, 16, 16, 16)
BOX_SCALE = 128.0
SCORE_CLIP = 100.0
MIN_SCORE = 0.65  # MediaPipe says 0.5; 0.65 is calibrated (bench_labels.py, README)
NMS_OVERLAP = 0.3  # min_suppression_threshold (intersection over union)
WINDOW_MIN_SIDE = 256  # below this, a window would be upscaled: the whole picture is enough


@cache
def anchors() -> np.ndarray[Any, np.dtype[np.float32]]:
    """The 896 anchor centres (x, y in [0, 1]): 2 per cell of 16x16, then 6 per cell of 8x8."""
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(STRIDES):
        stride, per_cell = STRIDES[layer], 0
        # Consecutive layers of one stride share their feature map (2 anchors per layer each).
        while layer < len(STRIDES) and STRIDES[layer] == stride:
            per_cell += 2
            layer += 1
        cells = SIDE // stride
        for y in range(cells):
            for x in range(cells):
                centres += [((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell
    return np.array(centres, dtype=np.float32)


def letterbox(image: Image.Image) -> tuple[np.ndarray[Any, np.dtype[np.float32]], float, float]:
    """A 1x3x128x128 tensor in [-1, 1] of the whole picture, padded to a square; pad fractions."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    scale = SIDE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    canvas = Image.new("RGB", (SIDE, SIDE))
    left, top = (SIDE - size[0]) // 2, (SIDE - size[1]) // 2
    canvas.paste(small, (left, top))
    pixels = np.asarray(canvas, dtype=np.float32) / 127.5 - 1.0
    return pixels.transpose(2, 0, 1)[None], left / SIDE, top / SIDE


def decode(
    regressors: np.ndarray[Any, Any], logits: np.ndarray[Any, Any], min_score: float
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Boxes (x0, y0, x1, y1 in the 128 square, as fractions) and scores above `min_score`."""
    logits64 = np.clip(logits.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits64))
    keep = scores >= min_score
    raw, centre = regressors.reshape(-1, 16)[keep], anchors()[keep]
    cx = raw[:, 0] / BOX_SCALE + centre[:, 0]
    cy = raw[:, 1] / BOX_SCALE + centre[:, 1]
    w, h = raw[:, 2] / BOX_SCALE, raw[:, 3] / BOX_SCALE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes, scores[keep]


def _iou(box: np.ndarray[Any, Any], others: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))


def weighted_nms(
    boxes: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], overlap: float = NMS_OVERLAP
) -> list[tuple[np.ndarray[Any, Any], float]]:
    """MediaPipe's WEIGHTED suppression: each cluster becomes its score-weighted mean box."""
    order = list(np.argsort(-scores))
    found: list[tuple[np.ndarray[Any, Any], float]] = []
    while order:
        best = order[0]
        ious = _iou(boxes[best], boxes[order])
        cluster = [order[i] for i in range(len(order)) if ious[i] > overlap]
        weights = scores[cluster]
        found.append(
            ((boxes[cluster] * weights[:, None]).sum(0) / weights.sum(), float(scores[best]))
        )
        order = [i for i in order if i not in cluster]
    return found


def windows(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """(left, top, width, height): the whole picture, then squares of half its shorter side."""
    # Spread evenly over the picture (2x2 for a square, 3x2 for 4:3), overlapping where the
    # sides are not multiples; none when a window would be smaller than WINDOW_MIN_SIDE.
    found = [(0, 0, width, height)]
    side = min(width, height) // 2
    if side * 2 < WINDOW_MIN_SIDE:
        return found
    columns, rows = -(-width // side), -(-height // side)
    for row in range(rows):
        for column in range(columns):
            left = round(column * (width - side) / max(columns - 1, 1))
            top = round(row * (height - side) / max(rows - 1, 1))
            found.append((left, top, side, side))
    return found


def model_resource() -> Path:
    """The .tflite file shipped in this package."""
    return Path(str(resources.files("bitimage.analysis").joinpath(MODEL_RESOURCE)))


class FaceAnalyser:
    """Labels "face" and "person" (and "people" for two or more faces); facts["faces"]."""

    name = "faces"

    def __init__(
        self,
        cache_dir: Path,
        threads: int = 1,
        min_score: float = MIN_SCORE,
        tiled: bool = False,
    ) -> None:
        source = model_resource()
        self.tiled = tiled  # also look in windows(): finds smaller faces, see README for the cost
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
        self.model = f"blazeface-short-range@{digest}"
        self.min_score = min_score
        self.model_file = cache_dir / f"blazeface-short-range-{digest}-r{GRAPH_REVISION}.onnx"
        self.built = False
        if not self.model_file.exists():
            self._build(source)
        try:
            self._session = open_session(self.model_file, threads)
        except Exception:  # a damaged cache file of any kind: rebuild it once
            log.warning("rebuilding unreadable model file %s", self.model_file, exc_info=True)
            self._build(source)
            self._session = open_session(self.model_file, threads)

    def _build(self, source: Path) -> None:
        # Imported here: onnx and tflite are only needed on the first start.
        from bitimage.analysis.faces_build import build_onnx

        build_onnx(source, self.model_file)
        self.built = True

    def detect(self, image: Image.Image) -> list[tuple[tuple[float, float, float, float], float]]:
        """Faces as ((x0, y0, x1, y1) as fractions of the picture, score), best first.

        The short-range model finds faces of at least about a tenth of its 128 px input; with
        `tiled`, square windows (windows()) are looked at too, and all their detections merged
        by the same weighted suppression.
        """
        width, height = image.size
        places = windows(width, height) if self.tiled else [(0, 0, width, height)]
        tensors, pads = [], []
        for left, top, side_x, side_y in places:
            tensor, pad_x, pad_y = letterbox(image.crop((left, top, left + side_x, top + side_y)))
            tensors.append(tensor)
            pads.append((pad_x, pad_y))
        # One call for every window: the graph is tiny, so a call's overhead is most of its cost.
        regressors, logits = self._session.run(None, {"image": np.concatenate(tensors)})
        boxes, scores = [], []
        for i, (left, top, side_x, side_y) in enumerate(places):
            found, found_scores = decode(regressors[i], logits[i], self.min_score)
            if not len(found):
                continue
            # From the letterboxed square to the window, then to the picture, as fractions.
            pad_x, pad_y = pads[i]
            span = np.array([1 - 2 * pad_x, 1 - 2 * pad_y] * 2)
            offset = np.array([pad_x, pad_y] * 2)
            scale = np.array([side_x / width, side_y / height] * 2)
            boxes.append(
                (found - offset) / span * scale + np.array([left / width, top / height] * 2)
            )
            scores.append(found_scores)
        if not boxes:
            return []
        merged = weighted_nms(np.concatenate(boxes), np.concatenate(scores))
        return [((float(b[0]), float(b[1]), float(b[2]), float(b[3])), s) for b, s in merged]

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        """Face and person labels at the best face's score; "people" too for several faces."""
        faces = self.detect(image.pixels)
        labels: list[Label] = []
        if faces:
            best = round(max(score for _, score in faces), 4)
            labels = [Label("face", best), Label("person", best)]
            if len(faces) > 1:
                second = round(sorted((s for _, s in faces), reverse=True)[1], 4)
                labels.append(Label("people", second))
        return AnalysisResult(labels=labels, facts={"faces": len(faces)})
