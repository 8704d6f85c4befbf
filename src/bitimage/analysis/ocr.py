"""Text in the picture, from RapidOCR's PP-OCR models (detector, line orientation, recogniser).

Most photos have no text, and reading one costs about 70 times the classifier, so a cheap test
comes first: the detector alone at GATE_SIDE px, then the recogniser on the few regions it found
(cut from the decoded picture, so at full resolution). That finds large text of any contrast or
colour; lines under about 28 px shrink below what the detector sees at that size, so when it
finds no word a second look follows: textcues.py picks the few places where thin strokes form a
line (at full, half and quarter size), and the detector runs on a mosaic of them (at most
SMALL_TEXT_PIXELS, each line shrunk to at most textcues.LINE_HEIGHT), the recogniser on what it
finds. Only a picture where either reads a word is read in full: the detector at DETECTOR_SIDE
and the recogniser on every line, so what is read is what the ungated reading reads.
bench/bench_ocr.py measured the gate on photos and on a text set with known strings.

The three ONNX graphs ship inside the PyPI package `rapidocr` (models/); their paths are given
explicitly, because without them RapidOCR resolves a model by name and hashes the file on every
start, or fetches it from the internet when it is missing. The recogniser carries its character
list in the graph's metadata, so no dictionary file is fetched either.
"""

from __future__ import annotations

from importlib import metadata, resources
from typing import Any

import cv2
import numpy as np
from rapidocr import RapidOCR
from rapidocr.ch_ppocr_det.utils import DetPreProcess
from rapidocr.ch_ppocr_rec import TextRecInput

from bitimage.analysis import textcues
from bitimage.analysis.ports import AnalysisResult, DecodedImage

PACKAGE = "rapidocr"
DETECTOR = "PP-OCRv6_det_small.onnx"
ORIENTATION = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
RECOGNISER = "PP-OCRv6_rec_small.onnx"
DETECTOR_SIDE = 960  # longest side the detector sees: a wide banner must not cost seconds
# The gate's first look: a quarter of the decoded size, for text too large or too faint for
# textcues (a 90 px word 30 grey levels from its background, or in a colour as light as it,
# 40 px at 30 levels); lines from 12 to about 28 px are the second look's. The detector costs
# about 0.8 us a pixel: 384 px (the first look alone once) took 120 ms of the gate's 145 a photo.
GATE_SIDE = 256
GATE_REGIONS = 6  # the largest regions the gate reads: one word among them is enough
# A smaller picture is read in full at once: its full pass is cheap too, and shrunk for the
# gate its text would be too small to find (scikit-image's 741 px motorcycle: "YAMAHA" found
# from 512 px up, not 384).
GATE_MIN_SIDE = 768
# The second look's budget: the detector on at most this many pixels (5% of a 1024x683
# picture, 27 ms). At 16384 px a caption's window, with the texture beside it, often did not
# fit: bench_ocr's random captions, 40/40 at 32768 px, lost 1 of 40 at 24576.
SMALL_TEXT_PIXELS = 32768
# Cut out at full size, texture reads as words now and then (a rocket's lattice as "BX" 0.84,
# teeth as "URA" 0.57), where bench_ocr's small lines read at 0.96 to 1.0 in the mosaic: the
# second look wants a surer read, of three letters or digits.
SMALL_TEXT_SCORE = 0.8
SMALL_TEXT_CHARS = 3
MIN_SCORE = 0.5  # recognised lines below this are mostly texture read as letters


def model_path(file_name: str) -> str:
    """The path of one model file inside the installed rapidocr package."""
    path = resources.files(PACKAGE).joinpath("models", file_name)
    if not path.is_file():
        raise FileNotFoundError(f"{file_name} is not in the installed {PACKAGE} package")
    return str(path)


def engine_params(threads: int) -> dict[str, Any]:
    """RapidOCR settings: bundled models, ONNX Runtime on `threads` threads, quiet log."""
    return {
        "Det.model_path": model_path(DETECTOR),
        "Cls.model_path": model_path(ORIENTATION),
        "Rec.model_path": model_path(RECOGNISER),
        "Det.limit_type": "max",
        "Det.limit_side_len": DETECTOR_SIDE,
        "Global.text_score": MIN_SCORE,
        # Its own stderr handler would otherwise warn on every picture without text.
        "Global.log_level": "error",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }


def quad_area(box: Any) -> float:
    """The area of a detected quadrilateral (shoelace formula)."""
    x, y = np.asarray(box, dtype=np.float64).T
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def _has_words(text: str, chars: int = 2) -> bool:
    # A lone "0" or "8" read off a photo's texture is noise, not text anyone searches for.
    return sum(ch.isalnum() for ch in text) >= chars


class TextAnalyser:
    """The recognised lines of text, top to bottom, as the result's `text`."""

    name = "text"

    def __init__(self, threads: int = 1, gate: bool = True) -> None:
        # gate=False reads every picture, as before the gate: bench_ocr.py compares the two.
        self.gate = gate
        self.model = f"rapidocr@{metadata.version(PACKAGE)}"
        self._engine = RapidOCR(params=engine_params(threads))
        # RapidOCR opens each model on first use; open them now so the first picture is not
        # slower than the rest and a broken install fails at start-up.
        self._engine._load_det_model()  # type: ignore[no-untyped-call]
        self._engine._load_cls_model()  # type: ignore[no-untyped-call]
        self._engine._load_rec_model()  # type: ignore[no-untyped-call]

    def has_text(self, image: DecodedImage) -> bool:
        """True when a region the detector finds reads as a word: at GATE_SIDE px, or small text."""
        # Most photos end at the second look: its cost (cues, and the detector on at most
        # SMALL_TEXT_PIXELS) is what bench_ocr weighs against the small text it finds.
        rgb = np.asarray(image.pixels)
        # OpenCV's conversion: 0.6 ms against 7 for numpy's reversed view copied (1024x683).
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if self._reads_word(bgr, GATE_SIDE):
            return True
        found = textcues.windows(textcues.cues(rgb), bgr.shape[1], bgr.shape[0])
        # The best windows, packed into one picture: one detector run on a few per cent of the
        # pixels finds the lines the run at GATE_SIDE px could not see.
        canvas = textcues.mosaic(bgr, found, SMALL_TEXT_PIXELS)
        if canvas.size == 0:
            return False
        return self._reads_word(canvas, max(canvas.shape[:2]), SMALL_TEXT_SCORE, SMALL_TEXT_CHARS)

    def _reads_word(
        self, bgr: np.ndarray[Any, Any], side: int, score: float = MIN_SCORE, chars: int = 2
    ) -> bool:
        """True when a region the detector finds in `bgr` at `side` px reads as a word."""
        engine: Any = self._engine
        detector = engine.text_det
        # Its own preprocessing at `side`; the engine's detector keeps DETECTOR_SIDE.
        tensor = DetPreProcess(side, "max", detector.mean, detector.std)(bgr)
        if tensor is None:
            return False
        boxes, _ = detector.postprocess_op(detector.session(tensor), bgr.shape[:2])
        if len(boxes) == 0:
            return False
        # A blob of texture (a retina, a tissue slide) is a region too: it reads as noise.
        areas = [quad_area(box) for box in boxes]
        largest = [boxes[i] for i in np.argsort(areas)[::-1][:GATE_REGIONS]]
        crops = engine.crop_text_regions(bgr, largest)
        upright = engine.text_cls(crops).img_list
        read = engine.text_rec(TextRecInput(img=upright))
        return any(
            float(read_score) >= score and _has_words(str(text), chars)
            for text, read_score in zip(read.txts or (), read.scores, strict=False)
        )

    def read(self, image: DecodedImage) -> list[tuple[str, float]]:
        """The recognised lines with their scores, top to bottom, at least MIN_SCORE each."""
        gated = self.gate and max(image.pixels.size) >= GATE_MIN_SIDE
        if gated and not self.has_text(image):
            return []
        # A PIL image goes in as it is: RapidOCR converts it to its BGR array in memory.
        result = self._engine(image.pixels)
        texts: Any = getattr(result, "txts", None) or ()
        scores: Any = getattr(result, "scores", None) or ()
        return [
            (str(text).strip(), float(score))
            for text, score in zip(texts, scores, strict=True)
            if float(score) >= MIN_SCORE and _has_words(str(text))
        ]

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        """Text: the lines joined by newlines (None when there are none); facts: their count."""
        lines = [text for text, _ in self.read(image)]
        return AnalysisResult(
            text="\n".join(lines) if lines else None, facts={"text_lines": len(lines)}
        )
