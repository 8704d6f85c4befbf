"""Decode an image once for every analyser: draft-mode JPEG, upright, RGB, bounded size.

The pixels come from bitimage.dhash.upright, the decode the SDK hashes local files with.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from PIL import ExifTags, Image

from bitimage.analysis.ports import DecodedImage
from bitimage.dhash import upright
from bitimage.imaging import open_within

_EXIF_FIELDS = {"DateTimeOriginal", "DateTime", "Make", "Model", "Orientation"}


def _exif(image: Image.Image) -> dict[str, Any]:
    raw = image.getexif()
    found: dict[str, Any] = {}
    for tag, value in {**raw, **raw.get_ifd(ExifTags.IFD.Exif)}.items():
        name = ExifTags.TAGS.get(tag)
        if name in _EXIF_FIELDS:
            found[name] = value if isinstance(value, int | float) else str(value).strip("\0 ")
    gps = raw.get_ifd(ExifTags.IFD.GPSInfo)
    if gps:
        found["GPSInfo"] = {ExifTags.GPSTAGS.get(k, str(k)): str(v) for k, v in gps.items()}
    return found


def decode(stream: BinaryIO, max_pixels: int) -> DecodedImage:
    """The image in `stream`, decoded at most WORK_SIZE a side (JPEG: at reduced scale).

    Raises UnsupportedImage (TooManyPixels over `max_pixels`) before decoding a pixel; Pillow's
    process-global limit is left alone (imaging.py says why).
    """
    with open_within(stream, max_pixels) as image:
        width, height = image.size
        exif = _exif(image)
        pixels = upright(image)
    return DecodedImage(pixels=pixels, original_width=width, original_height=height, exif=exif)
