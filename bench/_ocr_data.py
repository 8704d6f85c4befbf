"""The OCR benchmark's pictures: photos without text, and a text set whose strings are known.

Photos: scikit-image's sample photographs (public domain or CC0, shipped in its wheel), as the
worker gets them (JPEG q90, decoded by `bitimage.analysis.decode`). Text set: strings rendered
with Pillow in DejaVu (Debian's fonts-dejavu-core; Pillow's bundled font when it is absent)
onto those photos and onto plain backgrounds: a caption, a meme, a sign in a scene, a
screenshot, a document page, a poster, a small corner watermark, one-line captions of 12 to 20
px (as decoded), two of them on 3000 px uploads, and a small sign with 11 px letters.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from bitimage.analysis.decode import decode
from bitimage.analysis.ports import DecodedImage

try:
    from bench._common import photo_jpeg
except ModuleNotFoundError:  # run as `python bench/bench_x.py`
    from _common import photo_jpeg  # type: ignore[import-not-found,no-redef]

FONTS = Path("/usr/share/fonts/truetype/dejavu")
PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "retina",
    "camera",
    "grass",
    "gravel",
    "brick",
    "moon",
    "immunohistochemistry",
)
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class TextCase:
    """One picture of the text set and the lines it shows, top to bottom."""

    name: str
    image: Image.Image
    lines: tuple[str, ...]


def font(size: int, style: str = "Sans-Bold") -> Font:
    """DejaVu `style` at `size` px, or Pillow's bundled font when DejaVu is not installed."""
    path = FONTS / f"DejaVu{style}.ttf"
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def sample(name: str) -> Image.Image:
    """A scikit-image sample photo as RGB."""
    pixels: np.ndarray[Any, Any] = getattr(data, name)()
    return Image.fromarray(pixels).convert("RGB")


def photo_upload(name: str, long_side: int = 2048) -> bytes:
    """A sample photo as a phone-sized JPEG upload: scaled up with grain (bench._common)."""
    image = sample(name)
    scale = long_side / max(image.size)
    width, height = round(image.width * scale), round(image.height * scale)
    return photo_jpeg(np.asarray(image), width, height, 90, grain=6)


def worker_decode(upload: bytes) -> DecodedImage:
    """An upload decoded as the worker decodes it."""
    return decode(io.BytesIO(upload), 100_000_000)


def upload(image: Image.Image, quality: int = 90) -> bytes:
    """`image` as a JPEG upload."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def as_worker_sees(image: Image.Image) -> DecodedImage:
    """`image` encoded as a JPEG upload and decoded as the worker decodes it."""
    return worker_decode(upload(image))


def _outlined(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, face: Font) -> None:
    draw.text(xy, text, fill="white", font=face, stroke_width=3, stroke_fill="black")


def caption() -> TextCase:
    image = sample("chelsea").resize((1200, 800))
    lines = ("HAPPY BIRTHDAY TOM",)
    _outlined(ImageDraw.Draw(image), (180, 660), lines[0], font(64))
    return TextCase("caption on a photo", image, lines)


def meme() -> TextCase:
    image = sample("coffee").resize((1200, 800))
    lines = ("MONDAY MORNING", "FIRST COFFEE")
    draw = ImageDraw.Draw(image)
    _outlined(draw, (260, 40), lines[0], font(72))
    _outlined(draw, (300, 680), lines[1], font(72))
    return TextCase("meme, top and bottom", image, lines)


def sign() -> TextCase:
    image = sample("rocket").resize((1600, 1067))
    lines = ("EXIT 42", "Main Street")
    board = Image.new("RGB", (420, 200), (0, 110, 60))
    draw = ImageDraw.Draw(board)
    draw.rectangle((6, 6, 413, 193), outline="white", width=4)
    draw.text((110, 24), lines[0], fill="white", font=font(64))
    draw.text((60, 110), lines[1], fill="white", font=font(56, "Sans"))
    image.paste(board.rotate(4, expand=True, fillcolor=(90, 90, 90)), (980, 160))
    return TextCase("road sign in a scene", image, lines)


def screenshot() -> TextCase:
    image = Image.new("RGB", (1440, 900), (246, 246, 246))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1440, 48), fill=(40, 44, 52))
    lines = (
        "Settings - Bit Image",
        "Storage used: 12.4 GB of 50 GB",
        "Upload original files",
        "Analyse new photos automatically",
        "Last backup finished at 03:14",
    )
    draw.text((24, 10), lines[0], fill="white", font=font(24, "Sans"))
    for row, line in enumerate(lines[1:]):
        draw.text((60, 120 + row * 70), line, fill=(30, 30, 30), font=font(26, "Sans"))
    return TextCase("screenshot", image, lines)


def document() -> TextCase:
    image = Image.new("RGB", (1240, 1754), (252, 250, 245))
    draw = ImageDraw.Draw(image)
    lines = (
        "Invoice 2026-0117",
        "Photo printing, 24 prints",
        "Frames and mounting",
        "Total due: 184.50 EUR",
    )
    draw.text((120, 140), lines[0], fill="black", font=font(56, "Serif-Bold"))
    for row, line in enumerate(lines[1:]):
        draw.text((120, 330 + row * 110), line, fill="black", font=font(44, "Serif"))
    return TextCase("document page", image, lines)


def paragraph() -> TextCase:
    image = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(image)
    lines = (
        "The committee met on Tuesday to discuss",
        "the new library opening hours. Members",
        "agreed that the reading room will stay",
        "open until nine in the evening on weekdays",
        "and that children may borrow ten books.",
        "The next meeting is planned for March 3.",
    )
    for row, line in enumerate(lines):
        draw.text((100, 200 + row * 52), line, fill="black", font=font(36, "Serif"))
    return TextCase("dense paragraph", image, lines)


def poster() -> TextCase:
    image = Image.new("RGB", (1080, 1350), (200, 40, 60))
    draw = ImageDraw.Draw(image)
    lines = ("SUMMER", "JAZZ NIGHT", "Friday 8 pm")
    draw.text((200, 200), lines[0], fill=(255, 230, 120), font=font(150))
    draw.text((150, 500), lines[1], fill="white", font=font(120))
    draw.text((300, 900), lines[2], fill="white", font=font(80, "Sans"))
    return TextCase("poster", image, lines)


def watermark() -> TextCase:
    image = sample("astronaut").resize((1536, 1536))
    lines = ("Jane Doe Photography",)
    draw = ImageDraw.Draw(image)
    draw.text((900, 1450), lines[0], fill="white", font=font(40, "Sans"))
    return TextCase("small corner watermark", image, lines)


def _small_caption(photo: str, size: int, at: tuple[int, int], line: str) -> TextCase:
    image = sample(photo).resize((1536, 1024))
    draw = ImageDraw.Draw(image)
    # 1.5 times `size` here: `size` px once the worker has decoded it at 1024 px.
    face = font(size * 3 // 2, "Sans")
    draw.text(at, line, fill="white", font=face, stroke_width=1, stroke_fill="black")
    return TextCase(f"{size} px caption on {photo}", image, (line,))


def caption_12() -> TextCase:
    return _small_caption("rocket", 12, (600, 840), "Launch day 2024")


def caption_14() -> TextCase:
    return _small_caption("chelsea", 14, (90, 90), "Summer holiday 2024")


def caption_16() -> TextCase:
    return _small_caption("coffee", 16, (600, 840), "Cafe Central, Vienna")


def caption_20() -> TextCase:
    return _small_caption("astronaut", 20, (90, 900), "Photo: NASA archive")


def _large_photo_caption(photo: str, size: int, at: tuple[int, int], line: str) -> TextCase:
    # A 3000 px upload: the worker decodes it at 1024 px (JPEG draft scaling), so text drawn
    # `size` * 3000 / 1024 px high is `size` px high in what the analysers see.
    image = sample(photo)
    scale = 3000 / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    k = 3000 / 1024
    face = font(round(size * k), "Sans")
    draw = ImageDraw.Draw(image)
    xy = (round(at[0] * k), round(at[1] * k))
    draw.text(xy, line, fill="white", font=face, stroke_width=round(k), stroke_fill="black")
    return TextCase(f"{size} px caption, 3000 px {photo}", image, (line,))


def caption_12_large() -> TextCase:
    return _large_photo_caption("camera", 12, (200, 900), "Old town square")


def caption_11_large() -> TextCase:
    return _large_photo_caption("chelsea", 11, (600, 620), "Garden party 2025")


def small_sign() -> TextCase:
    # A 2048 px photo with a small blue sign whose letters are 11 px once decoded at 1024 px.
    image = sample("rocket").resize((2048, 1365))
    lines = ("BUS STOP 12",)
    face = font(22)
    left, top, right, bottom = (round(edge) for edge in face.getbbox(lines[0]))
    board = Image.new("RGB", (right - left + 24, bottom - top + 20), (20, 60, 140))
    ImageDraw.Draw(board).text((12 - left, 10 - top), lines[0], fill="white", font=face)
    image.paste(board, (1200, 500))
    return TextCase("small sign, 11 px letters", image, lines)


TEXT_CASES: tuple[Callable[[], TextCase], ...] = (
    caption,
    meme,
    sign,
    screenshot,
    document,
    paragraph,
    poster,
    watermark,
    caption_12,
    caption_14,
    caption_16,
    caption_20,
    caption_12_large,
    caption_11_large,
    small_sign,
)
# --quick: a large caption, a sign, and the two smallest lines the low-resolution pass misses.
QUICK_CASES: tuple[Callable[[], TextCase], ...] = (caption, sign, caption_12, small_sign)

_SWEEP_PHOTOS = ("rocket", "chelsea", "coffee", "astronaut", "camera")
_SWEEP_LINES = ("Summer holiday 2024", "Cafe Central, Vienna", "Launch day 2024",
                "Photo: NASA archive", "Grandma's birthday")  # fmt: skip


def caption_sweep(count: int, seed: int = 17) -> list[TextCase]:
    """`count` one-line captions of 14 to 28 px (as decoded) at random places on photos.

    The fixed cases above sit where the gate was tuned to find them; these do not.
    """
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        size, photo = rng.choice((14, 16, 18, 20, 24, 28)), rng.choice(_SWEEP_PHOTOS)
        at = (rng.randint(20, 900), rng.randint(20, 900))
        cases.append(_small_caption(photo, size, at, rng.choice(_SWEEP_LINES)))
    return cases


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            substitute = previous[j - 1] + (char != other)
            current.append(min(previous[j] + 1, current[j - 1] + 1, substitute))
        previous = current
    return previous[-1]


def normalised(text: str) -> str:
    """Lower case, whitespace removed: OCR's spacing between words is not what is measured."""
    return "".join(text.lower().split())


def char_accuracy(expected: tuple[str, ...], read: str | None) -> float:
    """1 - character error rate of what was read against the known lines (floor 0)."""
    want = normalised("".join(expected))
    got = normalised(read or "")
    return max(0.0, 1 - edit_distance(want, got) / len(want))
