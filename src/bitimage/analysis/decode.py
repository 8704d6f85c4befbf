"""Decode an image once for every analyser: draft-mode JPEG, upright, RGB, bounded size."""

from __future__ import annotations

from typing import Any, BinaryIO

from PIL import ExifTags, Image, ImageOps

from bitimage.analysis.ports import DecodedImage
from bitimage.imaging import open_within

WORK_SIZE = 1024  # longest side handed to analysers: enough for OCR at 960 px

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
        # A JPEG decodes at 1/2, 1/4 or 1/8 scale directly: several times cheaper. The
        # requested size keeps the picture's proportions, or a 2048x1536 photo (not a square
        # of 2048) would be decoded at full scale.
        scale = WORK_SIZE / max(width, height)
        if scale < 1:
            image.draft("RGB", (round(width * scale), round(height * scale)))
        exif = _exif(image)
        # libheif has already applied a HEIF's irot/imir: its EXIF orientation must not turn
        # the pixels a second time.
        upright = image if image.format == "HEIF" else ImageOps.exif_transpose(image)
        upright.thumbnail((WORK_SIZE, WORK_SIZE))
        pixels = upright.convert("RGB")
    return DecodedImage(pixels=pixels, original_width=width, original_height=height, exif=exif)
