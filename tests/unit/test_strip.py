"""The copy strangers get: location and camera metadata gone, pixels byte-identical once
decoded, orientation kept; JPEG, PNG, WebP (lossy and lossless) and animated GIF."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import ExifTags, Image

from bitimage.renditions.strip import strip

WHERE = (b"GPSLatitude", b"Bitcam", b"secret place")


def _picture() -> Image.Image:
    y, x = np.mgrid[0:240, 0:320]
    return Image.fromarray(np.dstack([x % 256, y % 256, (x * y) % 256]).astype(np.uint8))


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F], exif[0x0110] = "Bitcam", "One"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 30.0), "E", (2.0, 17.0, 40.0)
    return exif


def _saved(fmt: str, orientation: int, **options: object) -> bytes:
    out = io.BytesIO()
    xmp = {} if fmt == "PNG" else {"xmp": b"<x:xmpmeta>GPSLatitude secret place</x:xmpmeta>"}
    _picture().save(out, fmt, exif=_exif(orientation), **xmp, **options)
    return out.getvalue()


def _pixels(data: bytes) -> Any:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("PNG", {}),
        ("WEBP", {"lossless": True}),
        ("WEBP", {"quality": 80}),
    ],
)
@pytest.mark.parametrize("orientation", [1, 6])
def test_location_and_camera_go_pixels_and_orientation_stay(
    fmt: str, options: dict[str, object], orientation: int
) -> None:
    data = _saved(fmt, orientation, **options)
    assert all(marker in data for marker in WHERE[1:2])  # the test's input does carry them
    stripped, content_type = strip(data, fmt.lower())
    assert content_type == f"image/{fmt.lower()}"
    assert not any(marker in stripped for marker in WHERE)
    with Image.open(io.BytesIO(stripped)) as image:
        exif = image.getexif()
        assert exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert dict(exif) == ({} if orientation == 1 else {0x0112: orientation})
        assert "xmp" not in image.info
    assert np.array_equal(_pixels(stripped), _pixels(data))


def test_a_jpeg_loses_what_follows_its_end_and_keeps_its_colour_profile() -> None:
    out = io.BytesIO()
    icc = b"\x00" * 128 + b"acsp" + b"\x00" * 100  # kept verbatim; Pillow does not parse it
    _picture().save(out, "JPEG", exif=_exif(1), icc_profile=icc, comment=b"secret place")
    data = out.getvalue() + b"\xff\xd8 a trailing picture with GPSLatitude"  # a motion photo
    stripped, _ = strip(data, "jpeg")
    assert not any(marker in stripped for marker in WHERE)
    assert stripped.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(stripped)) as image:
        assert image.info.get("icc_profile") == icc
    assert np.array_equal(_pixels(stripped), _pixels(data))


def test_an_animated_gif_loses_comments_and_keeps_every_frame() -> None:
    frames = [Image.fromarray(np.roll(np.asarray(_picture()), 40 * i, 1)) for i in range(3)]
    out = io.BytesIO()
    palette = [frame.convert("P") for frame in frames]
    palette[0].save(
        out, "GIF", save_all=True, append_images=palette[1:], comment=b"secret place", loop=0
    )
    data = out.getvalue()
    stripped, content_type = strip(data, "gif")
    assert content_type == "image/gif"
    assert b"secret place" not in stripped
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(stripped)) as after:
        assert getattr(after, "n_frames", 1) == getattr(before, "n_frames", 1) == 3
        assert after.info.get("loop") == 0
        for index in range(3):
            before.seek(index)
            after.seek(index)
            assert np.array_equal(
                np.asarray(before.convert("RGB")), np.asarray(after.convert("RGB"))
            )


def test_a_png_without_metadata_is_unchanged() -> None:
    out = io.BytesIO()
    _picture().save(out, "PNG")
    assert strip(out.getvalue(), "png")[0] == out.getvalue()
