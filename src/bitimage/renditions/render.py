"""Making renditions: one cheap decode, upright, sRGB, first frame; thumbnail, preview, ThumbHash.

Pure image work: no store, no database. Nothing of the original's metadata is written: WebP
gets EXIF, XMP or ICC only when asked to, and this module never asks.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageCms

from bitimage.imaging import open_within
from bitimage.renditions.thumbhash import encode_base64

THUMBNAIL_EDGE = 250  # the short edge of a thumbnail
PREVIEW_EDGE = 1440  # the long edge of a preview
MAX_RATIO = 2.5  # a thumbnail keeps the picture's proportions up to 1:2.5, then crops
WEBP_QUALITY = 80
# libwebp's effort, 0-6 (its default is 4). Measured on a 1440x1080 photo preview: 4 took
# 127-129 ms, 2 took 50-57 ms for files 2-5% larger; the preview's encoding is most of the step.
WEBP_METHOD = 2
# Shrink by whole factors (a box filter) down to 2x the target, then Lanczos: the cost of a
# plain Lanczos resize from a 12 MP picture at nearly the same look.
REDUCING_GAP = 2.0
_ORIENTATION = 0x0112
_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


@dataclass(frozen=True)
class Renditions:
    """The WebP bytes of both renditions, their sizes, and the ThumbHash (base64)."""

    thumbnail: bytes
    preview: bytes
    placeholder: str
    thumbnail_size: tuple[int, int]
    preview_size: tuple[int, int]


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.lru_cache(maxsize=32)
def _to_srgb(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A transform from an embedded profile to sRGB (built once per profile); None if sRGB."""
    out = "RGBA" if mode == "RGBA" else "RGB"
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if mode == "RGB" and "srgb" in (ImageCms.getProfileDescription(profile) or "").lower():
            return None  # already sRGB: no transform to pay for
        return ImageCms.buildTransform(profile, _srgb(), mode, out)
    except (OSError, ImageCms.PyCMSError):
        return None  # an unreadable profile: the pixels are taken as they are


def _draft_size(width: int, height: int) -> tuple[int, int]:
    """The least size to decode at: the preview's long edge and the thumbnail's short edge."""
    scale = max(PREVIEW_EDGE / max(width, height), THUMBNAIL_EDGE / min(width, height))
    scale = min(1.0, scale)
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _upright(image: Image.Image) -> Image.Image:
    """The decoded first frame, turned as its EXIF orientation says (no copy when upright)."""
    # A HEIC/HEIF is turned by libheif as its irot/imir boxes say, while decoding; the EXIF
    # orientation phones also write describes the coded pixels and must not turn them again.
    # (pi-heif resets that tag to 1 too; this does not depend on it.)
    orientation = 1 if image.format == "HEIF" else image.getexif().get(_ORIENTATION, 1)
    image.load()
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        method = {
            2: Image.Transpose.FLIP_LEFT_RIGHT,
            3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270,
            7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90,
        }[orientation]
        return image.transpose(method)
    return image


def _eight_bit(image: Image.Image) -> Image.Image:
    """A mode resizing and WebP take: 16-bit grey scaled down (not clipped), palettes expanded."""
    if image.mode in _SIXTEEN_BIT:
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.mode in ("P", "PA", "LA", "La", "RGBa", "1"):
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode not in ("RGB", "RGBA", "L", "CMYK"):
        return image.convert("RGB")
    return image


def _srgb_of(image: Image.Image, icc: bytes | None) -> Image.Image:
    """The picture in sRGB: an embedded profile applied (CMYK included), else taken as sRGB."""
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        transform = _to_srgb(icc, image.mode)
        if transform is not None:
            return transform.apply(image)
    if image.mode in ("CMYK", "L"):
        return image.convert("RGB")
    return image


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)


def _preview_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, PREVIEW_EDGE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _cropped(image: Image.Image) -> Image.Image:
    """The centre of `image` at 1:2.5 at most: what lies beyond is all a thumbnail drops."""
    width, height = image.size
    if width > height * MAX_RATIO:
        keep = round(height * MAX_RATIO)
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    if height > width * MAX_RATIO:
        keep = round(width * MAX_RATIO)
        top = (height - keep) // 2
        return image.crop((0, top, width, top + keep))
    return image


def _thumbnail_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, THUMBNAIL_EDGE / min(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def webp(image: Image.Image) -> bytes:
    """`image` as WebP with no metadata (the settings every rendition uses)."""
    out = io.BytesIO()
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return out.getvalue()


def render(stream: BinaryIO, max_pixels: int) -> Renditions:
    """Thumbnail, preview and ThumbHash of the image in `stream` (its first frame)."""
    with open_within(stream, max_pixels) as opened:
        icc = opened.info.get("icc_profile")
        if opened.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when that is enough
            opened.draft(opened.mode, _draft_size(*opened.size))
        return _renditions(_eight_bit(_upright(opened)), icc)


def _renditions(upright: Image.Image, icc: bytes | None) -> Renditions:
    width, height = upright.size
    preview = _srgb_of(_fit(upright, _preview_size(width, height)), icc)
    # The thumbnail comes from the preview when it holds enough pixels (all but panoramas
    # wider than 1:5.76), else from the decoded picture.
    from_preview = min(preview.size) >= min(width, height, THUMBNAIL_EDGE)
    cropped = _cropped(preview if from_preview else upright)
    thumbnail = _fit(cropped, _thumbnail_size(*cropped.size))
    if not from_preview:
        thumbnail = _srgb_of(thumbnail, icc)
    return Renditions(
        thumbnail=webp(thumbnail),
        preview=webp(preview),
        placeholder=encode_base64(thumbnail),
        thumbnail_size=thumbnail.size,
        preview_size=preview.size,
    )
