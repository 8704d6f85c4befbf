"""What an uploaded object really is: format sniffed from its bytes, size from its header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import pi_heif
from PIL import Image, UnidentifiedImageError, features

# We enforce our own pixel limit (open_within), before anything is decoded; Pillow's global
# one would otherwise warn or raise on its own terms (and warnings are process-global). Set
# once, at import, and never again: the analysis decoder opens images through open_within too.
Image.MAX_IMAGE_PIXELS = None

# HEIC/HEIF (phone photos) through pi-heif, the decode-only build of pillow-heif. Registering
# an opener changes Pillow's process-wide plugin table (and pi-heif's own option globals), so
# it is done here, once, at import, like the limit above, and never at call time: every path
# that opens an image (notify, the analysis decoder, renditions, the stranger's copy) imports
# this module first. Thumbnails, depth maps and auxiliary images inside the file are never
# used, so libheif is not asked to list them.
pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

_PILLOW_FORMATS = {
    "JPEG": "jpeg",
    "PNG": "png",
    "GIF": "gif",
    "WEBP": "webp",
    "BMP": "bmp",
    "TIFF": "tiff",
}
if features.check("avif"):
    _PILLOW_FORMATS["AVIF"] = "avif"
# After AVIF: Image.open tries formats in this order, and a file branded mif1 may hold AV1
# (Pillow's AVIF plugin) or HEVC (pi-heif, which has no AV1 decoder). Pillow calls both
# "HEIF"; the file's brand says which of heic and heif it is (_file_format).
_PILLOW_FORMATS["HEIF"] = "heif"
# What the first bytes may say for a format we decode.
_ACCEPTED = {*_PILLOW_FORMATS.values(), "heic"}

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "avif": "image/avif",
    "heic": "image/heic",
    "heif": "image/heif",
}

# ISOBMFF major brands (the `ftyp` box) of the formats pi-heif opens: HEVC stills and
# sequences (heic, heix: 10-bit, heim/heis: multi-layer/scalable, hevc/hevx/hevm/hevs: their
# sequences, as phones write bursts and live photos) are HEIC; mif1/msf1 say only "HEIF
# image/sequence", unless a compatible brand says AVIF.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"GIF87a", 0, "gif"),
    (b"GIF89a", 0, "gif"),
    (b"WEBP", 8, "webp"),
    (b"BM", 0, "bmp"),
    (b"II*\x00", 0, "tiff"),
    (b"MM\x00*", 0, "tiff"),
    (b"%PDF", 0, "pdf"),
    (b"PK\x03\x04", 0, "zip"),
    (b"\x1f\x8b", 0, "gzip"),
    (b"\x7fELF", 0, "elf"),
)


class UnsupportedImage(Exception):
    """The bytes are not a supported image; `detected` names what they look like."""

    def __init__(self, detected: str, reason: str) -> None:
        super().__init__(reason)
        self.detected = detected
        self.reason = reason


class TooManyPixels(UnsupportedImage):
    """A header announcing more pixels than allowed (a decompression bomb)."""


@dataclass(frozen=True)
class ImageInfo:
    """Format and dimensions read from an image's header."""

    file_format: str
    width: int
    height: int


def _isobmff(head: bytes) -> str | None:
    """avif, heic or heif from an `ftyp` box's brands; None for any other file."""
    if head[4:8] != b"ftyp":
        return None
    major = head[8:12]
    end = min(int.from_bytes(head[:4], "big"), len(head))
    compatible = {head[at : at + 4] for at in range(16, end - 3, 4)}
    if major in _AVIF_BRANDS or (major in _HEIF_BRANDS and compatible & _AVIF_BRANDS):
        return "avif"
    if major in _HEIC_BRANDS:
        return "heic"
    if major in _HEIF_BRANDS:
        return "heif"
    return None


def sniff(head: bytes) -> str:
    """A short name for what the first bytes look like ("jpeg", "pdf", "svg", "text"...)."""
    brand = _isobmff(head)
    if brand is not None:
        return brand
    for magic, offset, name in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    text = head.lstrip().lower()
    if text.startswith((b"<svg", b"<?xml")) or b"<svg" in text:
        return "svg"
    if text.startswith((b"<!doctype html", b"<html")):
        return "html"
    if not head:
        return "empty"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "unknown binary"
    return "text"


def content_type(head: bytes) -> str:
    """The Content-Type to serve an object with, from its first bytes."""
    return CONTENT_TYPES.get(sniff(head), "application/octet-stream")


def _too_many(detected: str, width: int, height: int, max_pixels: int) -> TooManyPixels:
    return TooManyPixels(
        detected,
        f"{width}x{height} is {width * height / 1e6:.1f} megapixels, over the "
        f"{max_pixels / 1e6:g} megapixel limit",
    )


def open_within(stream: BinaryIO, max_pixels: int, detected: str = "image") -> Image.Image:
    """The image in `stream`, opened (header only) if it has at most `max_pixels` pixels."""
    try:
        image = Image.open(stream, formats=list(_PILLOW_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own limit, should anything have set one (a warning is raised when warnings
        # are errors): the header is still a bomb by our measure, whatever the exact size.
        raise TooManyPixels(
            detected, f"the {detected} header announces more than {max_pixels / 1e6:g} megapixels"
        ) from None
    except UnidentifiedImageError:
        # No plugin took the bytes; Pillow's message would name the stream object. libheif
        # parses the whole file (every item's extent) when opening it, so a HEIC or HEIF cut
        # short or damaged is refused here, before any decode.
        if detected in ("heic", "heif"):
            raise UnsupportedImage(
                detected, f"the {detected} data is truncated or corrupt"
            ) from None
        raise UnsupportedImage(detected, f"the {detected} header cannot be read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedImage(detected, f"the {detected} header cannot be read ({exc})") from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise _too_many(detected, width, height, max_pixels)
    return image


def inspect_image(stream: BinaryIO, max_pixels: int) -> ImageInfo:
    """Check `stream` holds a complete supported image and return its format and size."""
    head = stream.read(64)
    detected = sniff(head)
    if detected not in _ACCEPTED:
        raise UnsupportedImage(detected, f"the content is {detected}")
    stream.seek(0)
    with open_within(stream, max_pixels, detected) as image:
        width, height = image.size
        _check_complete(image, stream, detected)
        return ImageInfo(_file_format(str(image.format), detected), width, height)


def _file_format(pillow_format: str, detected: str) -> str:
    name = _PILLOW_FORMATS[pillow_format]
    return "heic" if name == "heif" and detected == "heic" else name


_PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk's type and CRC


def _tail(stream: BinaryIO) -> bytes:
    stream.seek(0, 2)
    stream.seek(max(0, stream.tell() - 64))
    return stream.read()


def _ends_with_jpeg_eoi(stream: BinaryIO) -> bool:
    # Inside entropy-coded data every 0xFF byte is stuffed (FF 00), so a file that ends in
    # the EOI marker FF D9 was not cut short; trailing zero padding is tolerated.
    return _tail(stream).rstrip(b"\0").endswith(b"\xff\xd9")


def _check_complete(image: Image.Image, stream: BinaryIO, detected: str) -> None:
    """Prove the data is whole: a JPEG's end marker, else a decode (JPEG at 1/8 scale)."""
    if image.format == "JPEG" and _ends_with_jpeg_eoi(stream):
        return
    try:
        if image.format == "JPEG":  # data after the end marker (e.g. a motion photo)
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
        elif image.format == "PNG":
            image.verify()  # every chunk's CRC, up to IEND
            if _PNG_END not in _tail(stream):
                raise OSError("the IEND chunk is missing")
        else:
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # A GIF frame larger than the header's screen, say: Pillow's limit, should one be set.
        raise TooManyPixels(detected, f"a {detected} frame is too large to decode") from None
    # RuntimeError: what pi-heif raises for a libheif error it has no closer exception for.
    except (OSError, ValueError, SyntaxError, EOFError, RuntimeError) as exc:
        raise UnsupportedImage(
            detected, f"the {detected} data is truncated or corrupt ({exc})"
        ) from None
