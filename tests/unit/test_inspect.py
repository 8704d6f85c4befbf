"""Format sniffed from the bytes, dimensions from the header, truncation and bombs refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bitimage.analysis.decode import decode
from bitimage.imaging import TooManyPixels, UnsupportedImage, content_type, inspect_image
from tests.bombs import bomb_png
from tests.support import make_jpeg


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("GIF", "gif"),
        ("WEBP", "webp"),
        ("BMP", "bmp"),
        ("TIFF", "tiff"),
    ],
)
def test_supported_formats(fmt: str, name: str) -> None:
    data = make_jpeg(30, 20, fmt=fmt)
    info = inspect_image(io.BytesIO(data), max_pixels=10_000)
    assert (info.file_format, info.width, info.height) == (name, 30, 20)
    assert content_type(data[:64]) == f"image/{name}"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_images_are_refused(fmt: str) -> None:
    data = make_jpeg(300, 200, seed=3, fmt=fmt)
    for cut in (len(data) // 2, len(data) - 1):
        with pytest.raises(UnsupportedImage, match="truncated or corrupt"):
            inspect_image(io.BytesIO(data[:cut]), max_pixels=10**6)


def test_jpeg_with_a_trailer_is_accepted() -> None:
    data = make_jpeg(40, 40) + b"\x00\x00\x00\x18ftypmp42 a motion photo's video"
    assert inspect_image(io.BytesIO(data), max_pixels=10**6).file_format == "jpeg"


def test_bomb_refused_before_decoding() -> None:
    with pytest.raises(TooManyPixels, match="megapixel"):
        inspect_image(io.BytesIO(make_jpeg(200, 100)), max_pixels=19_999)


@pytest.mark.parametrize(
    ("data", "detected"),
    [(b"%PDF-1.4", "pdf"), (b"<svg></svg>", "svg"), (b"hello", "text"), (b"", "empty")],
)
def test_non_images_name_what_they_are(data: bytes, detected: str) -> None:
    with pytest.raises(UnsupportedImage) as caught:
        inspect_image(io.BytesIO(data), max_pixels=10**6)
    assert caught.value.detected == detected


@pytest.mark.parametrize(
    ("pillow_limit", "size"),
    [
        (None, 12_000),  # Pillow's check is off (as inspect.py leaves it): ours refuses
        (100_000_000, 12_000),  # over twice Pillow's limit: DecompressionBombError
        (100_000_000, 11_000),  # between one and two times: a warning (an error in tests)
    ],
)
def test_a_bomb_header_is_refused_whatever_pillow_s_own_limit(
    monkeypatch: pytest.MonkeyPatch, pillow_limit: int | None, size: int
) -> None:
    # Whatever another module left in Pillow's process-global limit, a bomb is a 415 (never a
    # DecompressionBombError escaping as a 500).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    with pytest.raises(TooManyPixels, match="megapixel"):
        inspect_image(io.BytesIO(bomb_png(size, size)), max_pixels=50_000_000)


def test_decoding_checks_its_own_limit_and_leaves_pillow_s_alone() -> None:
    before = Image.MAX_IMAGE_PIXELS
    decoded = decode(io.BytesIO(make_jpeg(40, 30)), max_pixels=1_200)
    assert (decoded.original_width, decoded.original_height) == (40, 30)
    with pytest.raises(TooManyPixels, match="megapixel"):
        decode(io.BytesIO(make_jpeg(40, 30)), max_pixels=1_199)
    with pytest.raises(TooManyPixels):
        decode(io.BytesIO(bomb_png(12_000, 12_000)), max_pixels=50_000_000)
    assert Image.MAX_IMAGE_PIXELS is before
    # And inspecting still measures by its own limit after a decode.
    with pytest.raises(TooManyPixels, match="megapixel"):
        inspect_image(io.BytesIO(bomb_png(12_000, 12_000)), max_pixels=50_000_000)
