"""All five analysers: images/s of each, and of the worker's whole pipeline, one thread each.

Baseline, same run: bare EfficientNet-Lite0 inference, batch 1, on an already preprocessed
1x3x224x224 tensor (ClassifierAnalyser.infer). Measured against it: each analyser's `analyse`
(colours, classifier, faces = BlazeFace, people = NudeNet, text = RapidOCR) on the
DecodedImage the worker makes from (a) a ~1 MB photo JPEG (skimage's astronaut, 2048x1536,
q90) and (b) a 12 MP JPEG stored sideways with an EXIF orientation; then the whole
pipeline, decode + all five, per JPEG.
Start-up, in a fresh process: the time to import and load all five, and the RSS after loading
(target: < 600 MB), after the first image and after a few more of both sizes.
Options: --threads N (ONNX Runtime intra-op threads of each model, default 1); --quick: shorter
rounds.
Run: python bench/bench_analysers.py [--quick]
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image
from skimage import data

from bitimage.analysis.decode import decode
from bitimage.analysis.ports import Analyser, DecodedImage

try:
    from bench._common import best_rate, child_report, option, photo_jpeg, quick, rss_mb, table
except ModuleNotFoundError:  # run as `python bench/bench_analysers.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        best_rate,
        child_report,
        option,
        photo_jpeg,
        quick,
        rss_mb,
        table,
    )

MAX_PIXELS = 100_000_000
RSS_TARGET_MB = 600
HEADER = ("what", "images/s", "ms/image", "ratio")


def timed_rate(fn: Callable[[], object], seconds: float, rounds: int) -> float:
    """Calls per second of fn(), the best of `rounds` rounds of about `seconds` each."""
    start = time.perf_counter()
    fn()  # warm-up, which also sizes the rounds: OCR is ~100 times slower than colours
    calls = max(3, round(seconds / max(time.perf_counter() - start, 1e-6)))
    return best_rate(fn, calls, rounds)


def load_all(cache: Path, threads: int) -> tuple[list[Analyser], dict[str, float]]:
    """The five analysers in the worker's order, and the seconds each took to import and load."""

    # Imported in here, so that a fresh process times each library's import with its model.
    def colours() -> Analyser:
        from bitimage.analysis.colours import ColourAnalyser

        return ColourAnalyser()

    def classifier() -> Analyser:
        from bitimage.analysis.classifier import ClassifierAnalyser

        return ClassifierAnalyser(cache, threads=threads)

    def faces() -> Analyser:
        from bitimage.analysis.faces import FaceAnalyser

        return FaceAnalyser(cache, threads=threads)

    def people() -> Analyser:
        from bitimage.analysis.people import PeopleAnalyser

        return PeopleAnalyser(threads=threads)

    def text() -> Analyser:
        from bitimage.analysis.ocr import TextAnalyser

        return TextAnalyser(threads=threads)

    makers = {
        "colours": colours,
        "classifier": classifier,
        "faces": faces,
        "people": people,
        "text": text,
    }
    analysers, seconds = [], {}
    for name, make in makers.items():
        start = time.perf_counter()
        analysers.append(make())
        seconds[name] = time.perf_counter() - start
    return analysers, seconds


def _decode(jpeg: bytes) -> DecodedImage:
    """Decode `jpeg` from a fresh stream, as the worker does."""
    return decode(io.BytesIO(jpeg), MAX_PIXELS)


def pipeline(analysers: Sequence[Analyser], jpeg: bytes) -> object:
    """What the worker does with one image: decode once, then every analyser in turn."""
    decoded = decode(io.BytesIO(jpeg), MAX_PIXELS)
    return {analyser.name: analyser.analyse(decoded) for analyser in analysers}


def child(cache: str, threads: int) -> None:
    """In a fresh process: time loading all five analysers and report RSS as JSON."""
    # Made first: skimage's lazy imports and the pictures are no part of start-up.
    jpeg, large = (
        photo_jpeg(data.astronaut(), 2048, 1536, 90, grain=10),
        photo_jpeg(data.astronaut(), 4000, 3000, 90, rotated=True, grain=10),
    )
    before = rss_mb(os.getpid())
    start = time.perf_counter()
    analysers, seconds = load_all(Path(cache), threads)
    loaded = time.perf_counter() - start
    after_load = rss_mb(os.getpid())
    start = time.perf_counter()
    pipeline(analysers, jpeg)
    first = time.perf_counter() - start
    after_first = rss_mb(os.getpid())
    for _ in range(1 if quick() else 3):  # more of both sizes: RSS once arenas have settled
        pipeline(analysers, jpeg)
        pipeline(analysers, large)
    report = {
        "load_s": loaded,
        "each_s": seconds,
        "first_image_s": first,
        "rss_before": before,
        "rss_loaded": after_load,
        "rss_after_first": after_first,
        "rss_settled": rss_mb(os.getpid()),
    }
    print(json.dumps(report))


def start_up(cache: Path, threads: int) -> dict[str, Any]:
    """Run `child` in a fresh interpreter and read its report."""
    quick_flag = ["--quick"] if quick() else []
    return child_report(__file__, str(cache), "--threads", str(threads), *quick_flag)


def row(what: str, rate: float, baseline: float) -> tuple[str, str, str, str]:
    """One table row: rate, milliseconds per image and the ratio to the baseline."""
    return (what, f"{rate:.1f}", f"{1000 / rate:.1f}", f"{rate / baseline:.3f}")


def main() -> None:
    threads = option("--threads", 1)
    seconds, rounds = (0.4, 1) if quick() else (2.0, 3)
    jpegs = {
        "1 MB JPEG": photo_jpeg(data.astronaut(), 2048, 1536, 90, grain=10),
        "12 MP JPEG": photo_jpeg(data.astronaut(), 4000, 3000, 90, rotated=True, grain=10),
    }
    with tempfile.TemporaryDirectory(prefix="bench-analysers-") as folder:
        cache = Path(folder)
        analysers, first_load = load_all(cache, threads)  # converts the classifier's weights
        report = start_up(cache, threads)  # so this child times a load from the cached .onnx

    from bitimage.analysis.classifier import ClassifierAnalyser, preprocess

    classifier = next(a for a in analysers if isinstance(a, ClassifierAnalyser))
    tensor = preprocess(Image.fromarray(data.astronaut()))[None]
    baseline = timed_rate(lambda: classifier.infer(tensor), seconds, rounds)
    rows = [row("bare classifier inference, batch 1, tensor ready (baseline)", baseline, baseline)]
    decoded: dict[str, DecodedImage] = {}
    for label, jpeg in jpegs.items():
        decoded[label] = decode(io.BytesIO(jpeg), MAX_PIXELS)
        rate = timed_rate(partial(_decode, jpeg), seconds, rounds)
        image = decoded[label]
        size = f"{len(jpeg) / 1e6:.1f} MB, {image.original_width}x{image.original_height}"
        rows.append(row(f"decode only, {label} ({size} -> {image.pixels.size})", rate, baseline))
    for analyser in analysers:
        for label, image in decoded.items():
            rate = timed_rate(partial(analyser.analyse, image), seconds, rounds)
            rows.append(row(f"{analyser.name} ({analyser.model}), {label}", rate, baseline))
    for label, jpeg in jpegs.items():
        rate = timed_rate(partial(pipeline, analysers, jpeg), seconds, rounds)
        rows.append(row(f"whole pipeline: decode + all five, {label}", rate, baseline))

    print(f"analysers on ONNX Runtime CPU, {threads} intra-op thread(s) per model")
    print(f"best of {rounds} round(s) of ~{seconds:g} s each, after one warm-up call")
    print(table(rows, HEADER))
    print()
    startup = [(f"import + load {name}", f"{s:.2f}") for name, s in report["each_s"].items()]
    startup += [
        ("all five (total)", f"{report['load_s']:.2f}"),
        ("first image through decode + all five", f"{report['first_image_s']:.2f}"),
        (
            "classifier on first use, converting its weights (this process)",
            f"{first_load['classifier']:.2f}",
        ),
    ]
    print("start-up, fresh process (classifier from its cached .onnx)")
    print(table(startup, ("what", "seconds")))
    before, loaded, first = report["rss_before"], report["rss_loaded"], report["rss_after_first"]
    settled = report["rss_settled"]
    verdict = "met" if loaded < RSS_TARGET_MB else "MISSED"
    print(
        f"RSS: {before:.0f} MB before loading (numpy, Pillow, skimage), {loaded:.0f} MB with all"
        f" five loaded (+{loaded - before:.0f}), {first:.0f} MB after the first image"
        f" (+{first - loaded:.0f}), {settled:.0f} MB after more of both sizes"
    )
    print(f"target: RSS with all five loaded < {RSS_TARGET_MB} MB -> {verdict}")


if __name__ == "__main__":
    if "--child" in sys.argv:
        child(sys.argv[sys.argv.index("--child") + 1], option("--threads", 1))
    else:
        main()
