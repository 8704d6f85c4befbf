"""HEIC/HEIF through pi-heif: sniffed by brand, sized upright, refused when cut short or over the
pixel limit, decoded and rendered upright exactly once, stripped to a WebP without EXIF."""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np
import pytest
from PIL import ExifTags, Image
from skimage import data as photos

from bitimage.analysis.decode import decode
from bitimage.imaging import TooManyPixels, UnsupportedImage, content_type, inspect_image, sniff
from bitimage.renditions.render import render
from bitimage.renditions.strip import strip
from tests.support import phone_heic

UPRIGHT = (448, 300)  # the fixture's picture as it is meant to be seen


def _branded(data: bytes, major: bytes) -> bytes:
    return data[:8] + major + data[12:]


def upright_error(image: Image.Image) -> tuple[float, float]:
    """Mean pixel difference from the upright cat, and from the cat turned upside down."""
    seen = np.asarray(image.convert("RGB"), dtype=float)
    cat = Image.fromarray(photos.chelsea()).crop((0, 0, *UPRIGHT)).resize(image.size)
    expected = np.asarray(cat, dtype=float)
    return float(np.abs(seen - expected).mean()), float(np.abs(seen[::-1, ::-1] - expected).mean())


def assert_upright(image: Image.Image) -> None:
    """The cat as it is meant to be seen: not sideways, not turned twice."""
    assert image.width / image.height == pytest.approx(448 / 300, abs=0.01)
    error, upside_down = upright_error(image)
    assert error < 8 < upside_down


def test_a_phone_heic_is_inspected_upright() -> None:
    data = phone_heic()
    info = inspect_image(io.BytesIO(data), max_pixels=10**6)
    assert (info.file_format, info.width, info.height) == ("heic", *UPRIGHT)
    assert content_type(data[:64]) == "image/heic"


@pytest.mark.parametrize(
    ("major", "name"),
    [(b"heix", "heic"), (b"heim", "heic"), (b"heis", "heic"), (b"hevc", "heic"),
     (b"mif1", "heif"), (b"msf1", "heif")],
)  # fmt: skip
def test_every_brand_a_phone_writes_is_read(major: bytes, name: str) -> None:
    data = _branded(phone_heic(), major)
    info = inspect_image(io.BytesIO(data), max_pixels=10**6)
    assert (info.file_format, info.width, info.height) == (name, *UPRIGHT)
    assert content_type(data[:64]) == f"image/{name}"


def test_a_mif1_file_with_an_avif_brand_is_avif() -> None:
    head = b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf"
    assert sniff(head) == "avif"
    assert sniff(_branded(head, b"avis")) == "avif"
    assert sniff(_branded(head, b"mp42")) not in ("avif", "heic", "heif")  # a video


def test_a_truncated_heic_is_refused() -> None:
    data = phone_heic()
    for cut in (64, len(data) // 2, len(data) - 1):
        with pytest.raises(UnsupportedImage, match="the heic data is truncated or corrupt"):
            inspect_image(io.BytesIO(data[:cut]), max_pixels=10**6)


def _announcing(width: int, height: int) -> bytes:
    data = phone_heic()
    at = data.index(b"ispe") + 8  # after the box type, version and flags
    return data[:at] + struct.pack(">II", width, height) + data[at + 8 :]


def test_a_heic_over_the_pixel_limit_is_refused_before_decoding() -> None:
    with pytest.raises(TooManyPixels, match=r"20000x30000 is 600\.0 megapixels"):
        inspect_image(io.BytesIO(_announcing(30_000, 20_000)), max_pixels=50_000_000)
    with pytest.raises(TooManyPixels):
        decode(io.BytesIO(_announcing(30_000, 20_000)), max_pixels=50_000_000)


def test_a_heic_whose_header_lies_about_its_size_is_refused() -> None:
    with pytest.raises(UnsupportedImage, match="truncated or corrupt"):
        inspect_image(io.BytesIO(_announcing(5_000, 4_000)), max_pixels=50_000_000)


def test_the_analysis_decode_is_upright_once_and_reads_the_exif() -> None:
    decoded = decode(io.BytesIO(phone_heic()), max_pixels=10**6)
    assert (decoded.original_width, decoded.original_height) == UPRIGHT
    assert_upright(decoded.pixels)
    assert decoded.exif["Make"] == "Bitcam"
    assert decoded.exif["GPSInfo"]["GPSLatitudeRef"] == "N"


def _webp(data: bytes) -> Any:
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


def test_renditions_are_upright_once() -> None:
    made = render(io.BytesIO(phone_heic()), max_pixels=10**6)
    assert made.thumbnail_size == (373, 250)
    assert made.preview_size == UPRIGHT  # never upscaled
    with _webp(made.thumbnail) as thumbnail, _webp(made.preview) as preview:
        assert_upright(thumbnail)
        assert_upright(preview)


def test_a_strangers_copy_is_a_lossless_webp_without_exif() -> None:
    data = phone_heic()
    stripped, served_as = strip(data, "heic")
    assert served_as == "image/webp"
    assert b"Bitcam" not in stripped
    with _webp(stripped) as copy, Image.open(io.BytesIO(data)) as original:
        assert dict(copy.getexif()) == {}
        assert copy.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert "exif" not in copy.info
        assert "xmp" not in copy.info
        assert copy.size == UPRIGHT
        assert np.array_equal(np.asarray(copy.convert("RGB")), np.asarray(original))
