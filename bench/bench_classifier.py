"""Content labels: images/s of ClassifierAnalyser (EfficientNet-Lite0 on ONNX Runtime), one thread.

Baseline, same run: bare inference, batch 1, on an already preprocessed 1x3x224x224 tensor (the
floor of any pipeline around this model). Measured against it: decode as the worker does (JPEG
draft mode, exif_transpose, <= 1024 px, RGB) + ClassifierAnalyser.analyse, for a ~1 MB photo JPEG
and a 12 MP one (EXIF-rotated). Start-up, in fresh processes: converting the weights to ONNX on
first use vs loading the cached file, and the RSS after loading and after the first image.
Options: --threads N (ONNX Runtime intra-op threads, default 1). --quick: fewer rounds.
Run: python bench/bench_classifier.py [--quick]
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image
from skimage import data

from bitimage.analysis.classifier import ClassifierAnalyser, preprocess
from bitimage.analysis.decode import decode
from bitimage.analysis.ports import DecodedImage

try:
    from bench._common import best_rate, child_report, option, photo_jpeg, quick, rss_mb, table
except ModuleNotFoundError:  # run as `python bench/bench_classifier.py`
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
HEADER = ("what", "images/s", "ratio")


def _decode(jpeg: bytes) -> DecodedImage:
    """Decode `jpeg` from a fresh stream, as the worker does."""
    return decode(io.BytesIO(jpeg), MAX_PIXELS)


def child(cache: str, threads: int) -> None:
    """In a fresh process: time the analyser's start-up and report RSS as JSON."""
    picture = Image.fromarray(data.chelsea())  # loaded first: skimage's lazy imports are slow
    before = rss_mb(os.getpid())
    start = time.perf_counter()
    analyser = ClassifierAnalyser(Path(cache), threads=threads)
    loaded = time.perf_counter() - start
    after_load = rss_mb(os.getpid())
    start = time.perf_counter()
    analyser.classify_batch([picture])
    first = time.perf_counter() - start
    report = {
        "built": analyser.built,
        "load_s": loaded,
        "first_image_s": first,
        "rss_imports": before,
        "rss_loaded": after_load,
        "rss_after_first": rss_mb(os.getpid()),
    }
    print(json.dumps(report))


def start_up(cache: Path, threads: int) -> dict[str, Any]:
    """Run `child` in a fresh interpreter and read its report."""
    return child_report(__file__, str(cache), "--threads", str(threads))


def main() -> None:
    threads = option("--threads", 1)
    calls, rounds = (10, 2) if quick() else (100, 5)
    jpegs = {
        "1 MB JPEG": photo_jpeg(data.chelsea(), 2048, 1536, 93),
        "12 MP JPEG": photo_jpeg(data.chelsea(), 4000, 3000, 90, rotated=True),
    }
    with tempfile.TemporaryDirectory(prefix="bench-classifier-") as folder:
        cache = Path(folder)
        cold = start_up(cache, threads)
        warm = start_up(cache, threads)
        analyser = ClassifierAnalyser(cache, threads=threads)

    tensor = preprocess(Image.fromarray(data.chelsea()))[None]
    analyser.infer(tensor)  # warm-up: first runs allocate ORT's arena
    baseline = best_rate(lambda: analyser.infer(tensor), calls, rounds)
    rows: list[tuple[str, str, float]] = [
        ("bare inference, batch 1, tensor ready (baseline)", f"{baseline:.1f}", 1.0)
    ]
    for label, jpeg in jpegs.items():
        decoded = decode(io.BytesIO(jpeg), MAX_PIXELS)
        analyse_only = best_rate(partial(analyser.analyse, decoded), calls, rounds)

        def whole(jpeg: bytes = jpeg) -> object:
            return analyser.analyse(decode(io.BytesIO(jpeg), MAX_PIXELS))

        rate = best_rate(whole, calls, rounds)
        decode_only = best_rate(partial(_decode, jpeg), calls, rounds)
        size = f"{len(jpeg) / 1e6:.1f} MB, {decoded.original_width}x{decoded.original_height}"
        rows += [
            (f"analyse only, {label} ({size})", f"{analyse_only:.1f}", analyse_only / baseline),
            (f"decode only (worker), {label}", f"{decode_only:.1f}", decode_only / baseline),
            (f"decode + analyse, {label}", f"{rate:.1f}", rate / baseline),
        ]
    print(f"ClassifierAnalyser ({analyser.model}), ONNX Runtime CPU, {threads} intra-op thread(s)")
    print(f"best of {rounds} rounds x {calls} images")
    print(table([(what, rate, f"{ratio:.2f}") for what, rate, ratio in rows], HEADER))
    print()
    print("start-up, fresh process each")
    print(
        table(
            [
                ("first use: convert weights + load", f"{cold['load_s']:.2f}", str(cold["built"])),
                ("later: load cached .onnx", f"{warm['load_s']:.2f}", str(warm["built"])),
                ("first image after a cached load", f"{warm['first_image_s']:.3f}", ""),
            ],
            ("what", "seconds", "converted"),
        )
    )
    loaded, first = warm["rss_loaded"], warm["rss_after_first"]
    print(
        f"RSS: {warm['rss_imports']:.0f} MB after imports (numpy, Pillow, onnxruntime, skimage), "
        f"{loaded:.0f} MB after loading the cached model (+{loaded - warm['rss_imports']:.0f}), "
        f"{first:.0f} MB after the first image (+{first - loaded:.0f}); "
        f"{cold['rss_after_first']:.0f} MB after a first use that converted the weights"
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child(sys.argv[sys.argv.index("--child") + 1], option("--threads", 1))
    else:
        main()
