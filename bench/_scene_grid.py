"""Calibration of the scene rules (analysis/scenes.py) for bench_labels.py: found vs wrong words.

Each row changes one threshold of scenes.RULES (the others at their shipped values) and counts,
over the whole set, the expected words found and the wrong kind words among the labels of the
classifier, the faces analyser and the scene rules together. The last rows are the alternative
that was measured and not shipped: a kind word whenever the probabilities of all the classes that
give it add up to a mass, even if no single class passes the floor.
others(): the other pictures the same packages ship (drawings, patterns and textures in
/usr/share/backgrounds, scikit-image's other sample images), none of them a sky, sunset, forest,
grass or leaf photograph, left out of the calibration: a check of the rules' false words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from skimage import data

from bitimage.analysis.classifier import ClassifierAnalyser, ImageNetClass
from bitimage.analysis.scenes import RULES, Rules, Statistics, measure, scene_labels

try:
    from bench._label_photos import KIND_WORDS, PHOTOS, LabelPhoto
except ModuleNotFoundError:  # run as `python bench/bench_labels.py`
    from _label_photos import (  # type: ignore[import-not-found,no-redef]
        KIND_WORDS,
        PHOTOS,
        LabelPhoto,
    )

# Values tried per threshold; the shipped value is among them.
TRIED: dict[str, tuple[float, ...]] = {
    "sky_top": (0.4, 0.5, 0.6, 0.7, 0.8),
    "sky_bottom": (0.1, 0.3, 0.5, 1.0),
    "sun": (0.005, 0.01, 0.05, 1.0),
    "backlit": (0.3, 0.4, 0.5, 0.6),
    "green": (0.5, 0.6, 0.7, 0.75, 0.8, 0.9),
    "foliage_texture": (0.0, 0.02, 0.05, 0.08),
    "grass_ratio": (1.5, 2.0, 2.5, 3.0),
    "forest_mass": (0.3, 0.5, 0.7),
    "forest_texture": (0.05, 0.1, 0.15),
    "forest_sky": (0.1, 0.2, 0.5),
}
CLASS_SUM_MASSES = (0.2, 0.3, 0.5)
BACKGROUNDS = Path("/usr/share/backgrounds")
SKIMAGE_OTHERS = (
    "brick", "colorwheel", "grass", "gravel", "hubble_deep_field", "immunohistochemistry",
    "logo", "retina", "page", "text", "horse", "moon", "clock",
)  # fmt: skip


def others() -> Iterator[tuple[str, Image.Image]]:
    """The packaged pictures outside the evaluation set, as RGB images at most 2048 a side."""
    used = {photo.source.partition(":")[2] for photo in PHOTOS}
    files = sorted(f for f in BACKGROUNDS.rglob("*.*") if str(f) not in used)
    # The mate abstract wallpapers ship at three sizes: one is enough.
    for file in (f for f in files if "_3840x" not in f.name and "_5640x" not in f.name):
        with Image.open(file) as image:
            image.thumbnail((2048, 2048))
            yield file.name, image.convert("RGB")
    for name in SKIMAGE_OTHERS:
        pixels = np.asarray(getattr(data, name)())
        if pixels.dtype != np.uint8:  # a few ship as floats in 0..1 or as booleans
            pixels = (pixels.astype(np.float64) * 255).astype(np.uint8)
        yield f"skimage:{name}", Image.fromarray(pixels).convert("RGB")


@dataclass(frozen=True)
class Measured:
    """One photo: its annotation, its labels without scene words, its scene statistics."""

    photo: LabelPhoto
    base: frozenset[str]
    stats: Statistics
    probabilities: Any


Score = Callable[[LabelPhoto, set[str]], tuple[int, list[str]]]


def _count(
    items: Sequence[Measured], score: Score, words: Callable[[Measured], set[str]]
) -> tuple[str, str]:
    got = [score(m.photo, set(m.base) | words(m)) for m in items]
    total = sum(len(m.photo.expected) for m in items)
    hit, wrong = sum(g[0] for g in got), sum(len(g[1]) for g in got)
    return f"{hit}/{total} ({100 * hit / max(total, 1):.0f}%)", str(wrong)


def _with(rules: Rules) -> Callable[[Measured], set[str]]:
    return lambda m: {label.name for label in scene_labels(m.stats, rules)}


def _class_sums(classes: Sequence[ImageNetClass], mass: float) -> Callable[[Measured], set[str]]:
    def words(m: Measured) -> set[str]:
        sums: dict[str, float] = {}
        for index, c in enumerate(classes):
            for word in {c.name, *c.categories} & KIND_WORDS:
                sums[word] = sums.get(word, 0.0) + float(m.probabilities[index])
        return {word for word, total in sums.items() if total >= mass}

    return words


def grid_rows(
    items: Sequence[Measured], score: Score, classes: Sequence[ImageNetClass]
) -> list[tuple[str, str, str, str]]:
    """(rule, value, found, wrong) rows: no scenes, shipped, one threshold changed, class sums."""
    rows = [("no scene words", "-", *_count(items, score, lambda m: set()))]
    rows.append(("shipped rules", "-", *_count(items, score, _with(RULES))))
    shipped = {f.name: getattr(RULES, f.name) for f in fields(Rules)}
    for name, values in TRIED.items():
        for value in values:
            mark = " (shipped)" if value == shipped[name] else ""
            rules = replace(RULES, **{name: value})
            rows.append((name, f"{value}{mark}", *_count(items, score, _with(rules))))
    for mass in CLASS_SUM_MASSES:
        sums = _class_sums(classes, mass)
        rows.append(("class sums (not shipped)", str(mass), *_count(items, score, sums)))
    return rows


def check_others(classifier: ClassifierAnalyser) -> tuple[int, list[str]]:
    """How many other pictures were checked, and those given scene words (name: words)."""
    fired, checked = [], 0
    for name, image in others():
        probs = classifier.classify_batch([image])[0]
        stats = measure(image, probs, classifier.classes)
        words = sorted(label.name for label in scene_labels(stats))
        checked += 1
        if words:
            fired.append(f"{name}: {','.join(words)}")
    return checked, fired
