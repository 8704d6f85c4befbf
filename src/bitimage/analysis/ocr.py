"""Text in the picture, from RapidOCR's PP-OCR models (detector, line orientation, recogniser).

The three ONNX graphs ship inside the PyPI package `rapidocr` (models/); their paths are given
explicitly, because without them RapidOCR resolves a model by name and hashes the file on every
start, or fetches it from the internet when it is missing. The recogniser carries its character
list in the graph's metadata, so no dictionary file is fetched either.
"""

from __future__ import annotations

from importlib import metadata, resources
from typing import Any

from rapidocr import RapidOCR

from bitimage.analysis.ports import AnalysisResult, DecodedImage

PACKAGE = "rapidocr"
DETECTOR = "PP-OCRv6_det_small.onnx"
ORIENTATION = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
RECOGNISER = "PP-OCRv6_rec_small.onnx"
DETECTOR_SIDE = 960  # longest side the detector sees: a wide banner must not cost seconds
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


def _has_words(text: str) -> bool:
    # A lone "0" or "8" read off a photo's texture is noise, not text anyone searches for.
    return sum(ch.isalnum() for ch in text) >= 2


class TextAnalyser:
    """The recognised lines of text, top to bottom, as the result's `text`."""

    name = "text"

    def __init__(self, threads: int = 1) -> None:
        self.model = f"rapidocr@{metadata.version(PACKAGE)}"
        self._engine = RapidOCR(params=engine_params(threads))
        # RapidOCR opens each model on first use; open them now so the first picture is not
        # slower than the rest and a broken install fails at start-up.
        self._engine._load_det_model()  # type: ignore[no-untyped-call]
        self._engine._load_cls_model()  # type: ignore[no-untyped-call]
        self._engine._load_rec_model()  # type: ignore[no-untyped-call]

    def read(self, image: DecodedImage) -> list[tuple[str, float]]:
        """The recognised lines with their scores, top to bottom, at least MIN_SCORE each."""
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
