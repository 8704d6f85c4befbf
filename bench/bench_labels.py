"""Labels people would type: found words per everyday photo, before vs after, and the face detector.

For each photo of _label_photos.PHOTOS (packaged photos; a source whose package is missing is
listed as skipped) the worker's decode, then EfficientNet-Lite0 once; the same probabilities go
through the old selection (classes >= 0.3 among the top 5, WordNet categories only), the class
selection (classifier.select + the everyday vocabulary, plus the face detector (faces.py) on the
same decoded image: "classes") and then the scene rules (scenes.py) added on top ("+ scenes").
"Found" means a stored label is exactly the expected word, which is what `content_label=WORD`
matches first; trigram neighbours are not counted. Wrong labels: words of
KIND_WORDS on a photo whose annotation does not list them; face/person/people on photos without
people are counted apart.
Faces: precision and recall of "face" on the photos (annotated `people`) and on scikit-image's
lfw_subset (100 face and 100 non-face crops), and milliseconds per image.
Figures are given for the whole set, the package photos and the wallpapers apart.
Calibration (not with --quick): found and wrong labels for a grid of (mass, floor, top_k), and
one for the scene rules' thresholds (_scene_grid.py).
Run: python bench/bench_labels.py [--quick]
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from skimage import data

from bitimage.analysis.classifier import ClassifierAnalyser, select
from bitimage.analysis.decode import decode
from bitimage.analysis.faces import FaceAnalyser
from bitimage.analysis.ports import DecodedImage
from bitimage.analysis.scenes import measure, scene_labels

try:
    from bench._common import quick, table
    from bench._label_photos import KIND_WORDS, PHOTOS, LabelPhoto
    from bench._scene_grid import Measured, check_others, grid_rows
except ModuleNotFoundError:  # run as `python bench/bench_labels.py`
    from _common import quick, table  # type: ignore[import-not-found,no-redef]
    from _label_photos import (  # type: ignore[import-not-found,no-redef]
        KIND_WORDS,
        PHOTOS,
        LabelPhoto,
    )
    from _scene_grid import (  # type: ignore[import-not-found,no-redef]
        Measured,
        check_others,
        grid_rows,
    )

MAX_PIXELS = 100_000_000
OLD_THRESHOLD, OLD_TOP_K = 0.3, 5
PEOPLE_WORDS = frozenset({"face", "person", "people"})
STAGES = ("before", "classes", "+ scenes")
GRID = [
    (m, f, k) for m in (0.3, 0.5, 0.7, 0.9) for f in (0.05, 0.1, 0.15, 0.2, 0.3) for k in (3, 5)
]


def photo_bytes(source: str) -> bytes | None:
    """The photo's file bytes (PNG for scikit-image arrays); None if its package is missing."""
    kind, _, name = source.partition(":")
    try:
        if kind == "skimage":
            pixels = getattr(data, name)()
            pixels = pixels[0] if isinstance(pixels, tuple) else pixels  # stereo: the left view
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, "PNG")
            return buffer.getvalue()
        if kind == "sklearn":
            return resources.files("sklearn.datasets").joinpath("images", name).read_bytes()
        if kind == "matplotlib":
            return resources.files("matplotlib").joinpath("mpl-data/sample_data", name).read_bytes()
        return Path(name).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def old_categories() -> list[tuple[str, ...]]:
    """Each class's WordNet categories alone, as the classifier stored them before."""
    text = resources.files("bitimage.analysis").joinpath("data/imagenet_labels.json").read_text()
    return [tuple(c["categories"]) for c in json.loads(text)["classes"]]


def old_labels(classifier: ClassifierAnalyser, probabilities: Any, old: list[Any]) -> set[str]:
    """The labels of the old selection: top 5 classes at or above 0.3, WordNet categories."""
    top = np.argsort(-probabilities)[:OLD_TOP_K]
    kept = [int(i) for i in top if probabilities[i] >= OLD_THRESHOLD]
    return {classifier.classes[i].name for i in kept} | {c for i in kept for c in old[i]}


def new_labels(
    classifier: ClassifierAnalyser, probabilities: Any, grid: tuple[Any, ...]
) -> set[str]:
    """Class names and words of `select` with (mass, floor, top_k) = grid."""
    kept = select(probabilities, *grid)
    return {classifier.classes[i].name for i in kept} | {
        w for i in kept for w in classifier.classes[i].categories
    }


def score(photo: LabelPhoto, labels: set[str]) -> tuple[int, list[str]]:
    """How many expected words the labels hold, and the wrong kind words among them."""
    found = sum(word in labels for word in photo.expected)
    allowed = set(photo.expected) | set(photo.also)
    wrong = sorted(w for w in labels & KIND_WORDS if w not in allowed)
    return found, wrong


def marks(photo: LabelPhoto, labels: set[str]) -> str:
    return " ".join(f"{w}{'+' if w in labels else '-'}" for w in photo.expected)


def percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / max(whole, 1):.0f}%)"


def faces_on_crops(faces: FaceAnalyser) -> tuple[int, int, float]:
    """Crops of lfw_subset with a face found: of the 100 faces, of the 100 others; ms a crop."""
    crops = data.lfw_subset()
    start = time.perf_counter()
    hits = [
        bool(faces.detect(Image.fromarray((c * 255).astype(np.uint8)).convert("RGB")))
        for c in crops
    ]
    elapsed = (time.perf_counter() - start) * 1000 / len(crops)
    return sum(hits[:100]), sum(hits[100:]), elapsed


def group(photo: LabelPhoto) -> str:
    """Which part of the set a photo belongs to: the package photos or the wallpapers."""
    return "wallpapers" if photo.source.startswith("debian:") else "package photos"


def summary(measured: list[tuple[LabelPhoto, dict[str, set[str]]]]) -> None:
    """Found and wrong words per stage, for the whole set and each group."""
    for part in ("all", "package photos", "wallpapers"):
        chosen = [(p, s) for p, s in measured if part in ("all", group(p))]
        n = sum(len(p.expected) for p, _ in chosen)
        found, wrong, people = [], [], []
        for stage in STAGES:
            got = [score(p, s[stage]) for p, s in chosen]
            found.append(percent(sum(g[0] for g in got), n))
            wrong.append(str(sum(len(g[1]) for g in got)))
            people.append(
                str(sum(bool(s[stage] & PEOPLE_WORDS) for p, s in chosen if not p.people))
            )
        without = sum(not p.people for p, _ in chosen)
        print(
            f"{part} ({len(chosen)} photos): found {' -> '.join(found)}; wrong kind words "
            f"{' -> '.join(wrong)}; face/person/people without people "
            f"{' -> '.join(people)} of {without}  ({' -> '.join(STAGES)})"
        )


def main() -> None:
    cache = Path(tempfile.mkdtemp(prefix="bench-labels-"))
    classifier, faces = ClassifierAnalyser(cache), FaceAnalyser(cache)
    tiled = FaceAnalyser(cache, tiled=True)
    old = old_categories()
    rows, skipped, probabilities = [], [], {}
    measured: list[tuple[LabelPhoto, dict[str, set[str]]]] = []
    grid_items: list[Measured] = []
    face_ms: dict[str, list[float]] = {"whole": [], "tiled": []}
    scene_ms: list[float] = []
    classifier_ms: list[float] = []
    face_counts = {mode: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for mode in face_ms}
    for photo in PHOTOS[: 8 if quick() else None]:
        raw = photo_bytes(photo.source)
        if raw is None:
            skipped.append(photo.name)
            continue
        decoded: DecodedImage = decode(io.BytesIO(raw), MAX_PIXELS)
        start = time.perf_counter()
        probs = classifier.classify_batch([decoded.pixels])[0]
        classifier_ms.append((time.perf_counter() - start) * 1000)
        probabilities[photo] = probs
        for mode, detector in (("whole", faces), ("tiled", tiled)):
            start = time.perf_counter()
            face_result = detector.analyse(decoded)
            face_ms[mode].append((time.perf_counter() - start) * 1000)
            seen = face_result.facts["faces"] > 0
            key = ("tp" if seen else "fn") if photo.people else ("fp" if seen else "tn")
            face_counts[mode][key] += 1
        face_words = {label.name for label in faces.analyse(decoded).labels}
        start = time.perf_counter()
        stats = measure(decoded.pixels, probs, classifier.classes)
        scene_words = {label.name for label in scene_labels(stats)}
        scene_ms.append((time.perf_counter() - start) * 1000)
        stages = {"before": old_labels(classifier, probs, old)}
        stages["classes"] = {label.name for label in classifier.labels(probs).labels} | face_words
        stages["+ scenes"] = stages["classes"] | scene_words
        measured.append((photo, stages))
        grid_items.append(Measured(photo, frozenset(stages["classes"]), stats, probs))
        top = classifier.classes[int(np.argmax(probs))].name
        wrong = score(photo, stages["+ scenes"])[1]
        rows.append(
            (photo.name, top, *(marks(photo, stages[s]) for s in STAGES), ",".join(wrong) or "-")
        )
    print(table(rows, ("photo", "top class", *STAGES, "wrong (+ scenes)")))
    if skipped:
        print(f"skipped (package not installed): {', '.join(skipped)}")
    print()
    summary(measured)
    print(
        f"scene rules: {np.median(scene_ms):.1f} ms/image median (measure + rules); the "
        f"classifier's model in the same run: {np.median(classifier_ms):.1f} ms/image"
    )
    print()
    for mode, counts in face_counts.items():
        tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
        print(
            f"faces ({mode}) on the photos: precision {percent(tp, tp + fp)}, recall "
            f"{percent(tp, tp + fn)}, {np.median(face_ms[mode]):.1f} ms/image median"
        )
    crops_found, crops_false, crop_ms = faces_on_crops(faces)
    print(
        f"faces on lfw_subset crops: recall {crops_found}/100, false on non-faces "
        f"{crops_false}/100, precision {percent(crops_found, crops_found + crops_false)}, "
        f"{crop_ms:.2f} ms/crop"
    )
    if quick():
        return
    n = sum(len(p.expected) for p in probabilities)
    grid_rows_ = []
    for grid in GRID:
        got = [score(p, new_labels(classifier, pr, grid)) for p, pr in probabilities.items()]
        hit, wrong_count = sum(g[0] for g in got), sum(len(g[1]) for g in got)
        grid_rows_.append((*grid, percent(hit, n), wrong_count))
    print("\ncalibration (classifier words only, no faces, no scenes):")
    print(table(grid_rows_, ("mass", "floor", "top_k", "found", "wrong")))
    print("\nscene rules (classes + faces + scenes; one threshold changed at a time):")
    print(
        table(grid_rows(grid_items, score, classifier.classes), ("rule", "value", "found", "wrong"))
    )
    checked, fired = check_others(classifier)
    print(
        f"\nscene words on {checked} other packaged pictures (drawings, patterns, textures; "
        f"left out of the calibration): {len(fired)} ({'; '.join(fired) or 'none'})"
    )


if __name__ == "__main__":
    main()
