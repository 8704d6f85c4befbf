"""The dHash of a picture, computed the same way by the server's analysis and by the SDK.

Shared kernel: the metadata analyser hashes what the analysis decoder made of the upload, and
the uploader (--skip-near-duplicates) hashes a local file before sending it; both go through
`upright` and `dhash` here, so the same bytes give the same 64 bits on either side (a JPEG's
reduced-scale decode and the WORK_SIZE thumbnail change a few of them, so they are shared too).
"""

from __future__ import annotations

from typing import BinaryIO

from PIL import Image, ImageOps

from bitimage.imaging import open_within

WORK_SIZE = 1024  # longest side handed to analysers: enough for OCR at 960 px
_HASH_SIDE = 8


def upright(image: Image.Image) -> Image.Image:
    """An opened image decoded at most WORK_SIZE a side (JPEG: at reduced scale), upright, RGB."""
    width, height = image.size
    # A JPEG decodes at 1/2, 1/4 or 1/8 scale directly: several times cheaper. The requested
    # size keeps the picture's proportions, or a 2048x1536 photo (not a square of 2048) would
    # be decoded at full scale.
    scale = WORK_SIZE / max(width, height)
    if scale < 1:
        image.draft("RGB", (round(width * scale), round(height * scale)))
    # libheif has already applied a HEIF's irot/imir: its EXIF orientation must not turn the
    # pixels a second time.
    turned = image if image.format == "HEIF" else ImageOps.exif_transpose(image)
    turned.thumbnail((WORK_SIZE, WORK_SIZE))
    return turned.convert("RGB")


def dhash(image: Image.Image) -> str:
    """The 64-bit difference hash as 16 hex digits: near-duplicates differ in few bits."""
    small = image.convert("L").resize((_HASH_SIDE + 1, _HASH_SIDE), Image.Resampling.LANCZOS)
    pixels = small.tobytes()
    bits = 0
    for row in range(_HASH_SIDE):
        start = row * (_HASH_SIDE + 1)
        for col in range(_HASH_SIDE):
            bits = (bits << 1) | (pixels[start + col] > pixels[start + col + 1])
    return f"{bits:016x}"


def stream_dhash(stream: BinaryIO, max_pixels: int) -> str:
    """The dHash the server's analysis gives the image in `stream` (UnsupportedImage if none)."""
    with open_within(stream, max_pixels) as image:
        return dhash(upright(image))
