"""The people (NudeNet) and text (RapidOCR) analysers on real photos and rendered text, offline."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from bitimage.analysis.ocr import (
    DETECTOR_SIDE,
    GATE_MIN_SIDE,
    GATE_REGIONS,
    TextAnalyser,
    model_path,
)
from bitimage.analysis.people import EXPLICIT_THRESHOLD, PeopleAnalyser
from bitimage.analysis.ports import AnalysisResult, DecodedImage


@contextmanager
def no_network() -> Iterator[None]:
    """Any attempt to resolve or connect fails loudly instead of reaching out."""

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"network access attempted: {args!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        yield


@pytest.fixture(scope="module")
def people() -> PeopleAnalyser:
    """One detector for the module, loaded with the network cut off."""
    with no_network():
        return PeopleAnalyser()


@pytest.fixture(scope="module")
def reader() -> TextAnalyser:
    """One OCR engine for the module, loaded with the network cut off."""
    with no_network():
        return TextAnalyser()


def decoded(image: Image.Image) -> DecodedImage:
    return DecodedImage(image, image.width, image.height)


def photo(pixels: np.ndarray[Any, Any]) -> DecodedImage:
    """A photo as the worker sees a phone's: its longer side at the decoded 1024 px."""
    image = Image.fromarray(pixels).convert("RGB")
    scale = 1024 / max(image.size)
    return decoded(image.resize((round(image.width * scale), round(image.height * scale))))


def rendered(lines: list[str], size: tuple[int, int] = (900, 320)) -> DecodedImage:
    """Black text on white in Pillow's bundled scalable font (no system font needed)."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    for row, line in enumerate(lines):
        draw.text((40, 50 + row * 110), line, fill="black", font=font)
    return decoded(image)


def analyse_offline(analyser: PeopleAnalyser | TextAnalyser, image: DecodedImage) -> AnalysisResult:
    with no_network():
        return analyser.analyse(image)


def test_astronaut_is_not_explicit_and_gets_no_label(people: PeopleAnalyser) -> None:
    # Faces are the default `faces` analyser's (test_faces.py): this one scores nudity only.
    result = analyse_offline(people, photo(data.astronaut()))
    assert result.labels == []
    assert "faces" not in result.facts
    moderation = result.facts["moderation"]
    assert moderation["explicit_score"] < EXPLICIT_THRESHOLD
    assert moderation["classes"]["FACE_FEMALE"] >= 0.5


def test_coffee_is_not_explicit(people: PeopleAnalyser) -> None:
    result = analyse_offline(people, photo(data.coffee()))
    assert result.labels == []
    assert result.facts["moderation"]["explicit_score"] < EXPLICIT_THRESHOLD


def test_people_result_shape(people: PeopleAnalyser) -> None:
    assert people.name == "people"
    assert people.model.startswith("nudenet@3.")
    moderation = analyse_offline(people, photo(data.camera())).facts["moderation"]
    assert isinstance(moderation["explicit_score"], float)
    assert all(isinstance(score, float) for score in moderation["classes"].values())
    # A grey picture the size of a decoded photo: nothing found, and no error either.
    result = analyse_offline(people, decoded(Image.new("RGB", (1024, 683), "gray")))
    assert result.facts["moderation"] == {"explicit_score": 0.0, "classes": {}}


def test_rendered_text_is_read(reader: TextAnalyser) -> None:
    result = analyse_offline(reader, rendered(["BIT IMAGE 2026", "hello world"]))
    assert result.text is not None
    text = result.text.lower()
    assert "bit image 2026" in text
    assert "hello world" in text
    assert text.index("bit image") < text.index("hello world")  # top to bottom
    assert result.facts == {"text_lines": 2}
    assert result.labels == []


def test_wide_banner_is_read(reader: TextAnalyser) -> None:
    # Wider than the detector's limit, so it is shrunk for detection but still read.
    result = analyse_offline(reader, rendered(["WIDE BANNER"], size=(DETECTOR_SIDE + 64, 160)))
    assert result.text is not None
    assert "wide banner" in result.text.lower()


def test_no_text_gives_none(reader: TextAnalyser) -> None:
    result = analyse_offline(reader, decoded(Image.new("RGB", (640, 480), "white")))
    assert result.text is None
    assert result.facts == {"text_lines": 0}


def test_ocr_models_come_from_the_package(reader: TextAnalyser) -> None:
    assert reader.name == "text"
    assert reader.model.startswith("rapidocr@3.")
    import rapidocr

    package_dir = Path(rapidocr.__file__).parent
    for name in ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx"):
        assert Path(model_path(name)).parent == package_dir / "models"


def captioned(pixels: np.ndarray[Any, Any], caption: str) -> DecodedImage:
    """A photo at a phone photo's decoded size with a white, outlined caption near its foot."""
    image = Image.fromarray(pixels).convert("RGB").resize((1024, 683))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=56)
    draw.text((120, 560), caption, fill="white", font=font, stroke_width=3, stroke_fill="black")
    return decoded(image)


@pytest.fixture
def recognitions(reader: TextAnalyser, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many crops each call of the recogniser got, one entry a call."""
    calls: list[int] = []
    engine: Any = reader._engine
    recogniser = engine.text_rec

    def counted(rec_input: Any) -> Any:
        calls.append(len(rec_input.img))
        return recogniser(rec_input)

    monkeypatch.setattr(engine, "text_rec", counted)
    return calls


class CountedEngine:
    """The OCR engine, counting its full passes (detector at DETECTOR_SIDE, every line read)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.full_passes = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.full_passes += 1
        return self.engine(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


@pytest.fixture
def engine(reader: TextAnalyser, monkeypatch: pytest.MonkeyPatch) -> CountedEngine:
    counted = CountedEngine(reader._engine)
    monkeypatch.setattr(reader, "_engine", counted)
    return counted


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket", "astronaut"])
def test_photos_without_text_skip_the_full_reading(
    reader: TextAnalyser, engine: CountedEngine, recognitions: list[int], name: str
) -> None:
    image = photo(getattr(data, name)())
    assert not reader.has_text(image)
    result = analyse_offline(reader, image)
    assert result.text is None
    assert result.facts == {"text_lines": 0}
    assert engine.full_passes == 0
    # At most the gate's few regions were read (coffee's cup is one), never every line.
    assert all(crops <= GATE_REGIONS for crops in recognitions)


def test_text_on_a_photo_passes_the_gate_and_is_read(
    reader: TextAnalyser, engine: CountedEngine
) -> None:
    image = captioned(data.chelsea(), "HAPPY BIRTHDAY TOM")
    assert reader.has_text(image)
    result = analyse_offline(reader, image)
    assert result.text is not None
    assert "happy birthday tom" in result.text.lower()
    assert engine.full_passes == 1


def test_a_small_picture_is_read_in_full_without_the_gate(
    reader: TextAnalyser, engine: CountedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 741x500: the gate would shrink it to 384 px, where its small "YAMAHA" is not found.
    def no_gate(_: DecodedImage) -> NoReturn:
        raise AssertionError("a small picture is read in full, without the gate")

    monkeypatch.setattr(reader, "has_text", no_gate)
    pixels = data.stereo_motorcycle()[0]
    image = DecodedImage(Image.fromarray(pixels), pixels.shape[1], pixels.shape[0])
    assert max(image.pixels.size) < GATE_MIN_SIDE
    result = analyse_offline(reader, image)
    assert result.text is not None
    assert "YAMAHA" in result.text
    assert engine.full_passes == 1


def test_the_gate_changes_nothing_on_text(reader: TextAnalyser) -> None:
    with no_network():
        ungated = TextAnalyser(gate=False)
    assert not ungated.gate
    for image in (
        captioned(data.coffee(), "MONDAY MORNING"),
        rendered(["BIT IMAGE 2026", "hello world"]),
    ):
        assert analyse_offline(reader, image) == analyse_offline(ungated, image)


def test_ungated_reader_runs_the_full_reading_on_a_photo(
    reader: TextAnalyser, engine: CountedEngine
) -> None:
    # The checks above are not vacuous: without the gate every photo gets the full pass.
    reader.gate = False
    try:
        analyse_offline(reader, photo(data.coffee()))
    finally:
        reader.gate = True
    assert engine.full_passes == 1


@pytest.mark.parametrize("name", ["immunohistochemistry", "retina"])
def test_a_texture_region_is_read_once_and_rejected(
    reader: TextAnalyser, engine: CountedEngine, recognitions: list[int], name: str
) -> None:
    # The detector at the gate's size takes the stained tissue (the retina) for a region;
    # the recogniser reads the gate's regions alone, finds no word, and the full pass never runs.
    result = analyse_offline(reader, photo(getattr(data, name)()))
    assert result.text is None
    assert len(recognitions) == 1
    assert 1 <= recognitions[0] <= GATE_REGIONS
    assert engine.full_passes == 0
