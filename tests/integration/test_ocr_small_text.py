"""The OCR gate's second look, for small text: real models on rendered pictures, offline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from bitimage.analysis import ocr, textcues
from bitimage.analysis.ocr import SMALL_TEXT_PIXELS, TextAnalyser
from bitimage.analysis.ports import DecodedImage
from tests.integration.test_people_ocr import CountedEngine, analyse_offline, no_network, photo


@pytest.fixture(scope="module")
def reader() -> TextAnalyser:
    """One OCR engine for the module, loaded with the network cut off."""
    with no_network():
        return TextAnalyser()


@pytest.fixture
def engine(reader: TextAnalyser, monkeypatch: pytest.MonkeyPatch) -> CountedEngine:
    counted = CountedEngine(reader._engine)
    monkeypatch.setattr(reader, "_engine", counted)
    return counted


@pytest.fixture
def mosaics(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """The shape of every mosaic of small-text windows the gate builds, one entry a call."""
    shapes: list[tuple[int, ...]] = []
    build = textcues.mosaic

    def recorded(*args: Any) -> np.ndarray[Any, Any]:
        canvas = build(*args)
        shapes.append(canvas.shape)
        return canvas

    monkeypatch.setattr(textcues, "mosaic", recorded)
    return shapes


def small_caption(name: str, at: tuple[int, int], size: int = 12) -> DecodedImage:
    """A photo at its decoded 1024 px with one `size` px caption (Pillow's bundled font)."""
    image = Image.fromarray(getattr(data, name)()).convert("RGB").resize((1024, 683))
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(image)
    draw.text(at, "Launch day 2024", fill="white", font=font, stroke_width=1, stroke_fill="black")
    return DecodedImage(image, image.width, image.height)


@pytest.mark.parametrize(
    ("name", "at", "size"),
    [
        ("rocket", (400, 560), 12),
        ("coffee", (600, 600), 12),
        ("rocket", (300, 450), 20),  # found at half size
        ("astronaut", (300, 450), 28),  # shrunk to LINE_HEIGHT in the mosaic
    ],
)
def test_a_caption_too_small_for_the_first_look_is_read_with_the_gate_on(
    reader: TextAnalyser,
    engine: CountedEngine,
    mosaics: list[tuple[int, ...]],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    at: tuple[int, int],
    size: int,
) -> None:
    image = small_caption(name, at, size)
    # Not vacuous: the detector at GATE_SIDE px alone (no budget for the second look) misses it.
    monkeypatch.setattr(ocr, "SMALL_TEXT_PIXELS", 0)
    assert not reader.has_text(image)
    monkeypatch.setattr(ocr, "SMALL_TEXT_PIXELS", SMALL_TEXT_PIXELS)
    result = analyse_offline(reader, image)
    assert result.text == "Launch day 2024"
    assert engine.full_passes == 1
    # The second look saw a few per cent of the picture, not the picture.
    canvas = mosaics[-1]
    assert 0 < canvas[0] * canvas[1] <= SMALL_TEXT_PIXELS
    with no_network():
        ungated = TextAnalyser(gate=False)
    assert result == analyse_offline(ungated, image)


@pytest.mark.parametrize("name", ["astronaut", "rocket", "camera", "grass", "gravel", "brick"])
def test_photos_with_text_like_texture_skip_the_full_reading(
    reader: TextAnalyser, engine: CountedEngine, mosaics: list[tuple[int, ...]], name: str
) -> None:
    # Teeth, a launch tower, grass and bricks give line-shaped bands of strokes: the second
    # look runs on them (so this is not vacuous) and the detector and recogniser reject them.
    result = analyse_offline(reader, photo(getattr(data, name)()))
    assert result.text is None
    assert engine.full_passes == 0
    assert len(mosaics) == 1
    assert 0 < mosaics[0][0] * mosaics[0][1] <= SMALL_TEXT_PIXELS


@pytest.mark.parametrize(
    ("background", "ink"),
    [((120, 120, 120), (150, 150, 150)), ((200, 60, 60), (60, 140, 60))],
    ids=["faint", "as light as its background"],
)
def test_large_text_the_cues_cannot_see_passes_the_first_look(
    reader: TextAnalyser,
    mosaics: list[tuple[int, ...]],
    background: tuple[int, int, int],
    ink: tuple[int, int, int],
) -> None:
    # 30 and 5 grey levels from the background: under textcues.CUE_CONTRAST, so the second
    # look alone would miss it; this is what the detector at GATE_SIDE px is kept for.
    image = Image.new("RGB", (1024, 683), background)
    ImageDraw.Draw(image).text((70, 200), "OPEN", fill=ink, font=ImageFont.load_default(size=60))
    assert textcues.cues(np.asarray(image)) == []
    assert reader.has_text(DecodedImage(image, image.width, image.height))
    assert mosaics == []
