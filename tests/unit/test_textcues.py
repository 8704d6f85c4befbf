"""The OCR gate's small-text cues (textcues.py): where thin strokes form a line, and the mosaic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from bitimage.analysis.textcues import GAP, LINE_HEIGHT, Box, core, cues, mosaic, windows

LINE = "Launch day 2024"


def picture(
    background: tuple[int, int, int], ink: tuple[int, int, int], at: tuple[int, int] | None
) -> np.ndarray[Any, Any]:
    """A 1024x683 picture with slight noise and, at `at`, one 12 px line of text."""
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 4, (683, 1024, 3))
    pixels = np.clip(np.array(background, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    if at is not None:
        ImageDraw.Draw(image).text(at, LINE, fill=ink, font=ImageFont.load_default(size=12))
    return np.asarray(image)


def inside(box: Box, x: int, y: int) -> bool:
    return box[0] <= x < box[2] and box[1] <= y < box[3]


@pytest.mark.parametrize(
    ("background", "ink"),
    [((40, 60, 90), (250, 250, 250)), ((235, 230, 220), (20, 20, 20))],
    ids=["light on dark", "dark on light"],
)
def test_a_small_line_is_a_cue(background: tuple[int, int, int], ink: tuple[int, int, int]) -> None:
    found = cues(picture(background, ink, (400, 560)))
    assert found
    _, best = found[0]
    # The band covers the middle of the line (its x-height), a little right of where it starts.
    assert inside(best, 420, 568)
    assert best[2] - best[0] >= 60


def test_no_line_no_cue() -> None:
    assert cues(picture((40, 60, 90), (250, 250, 250), None)) == []
    # One stroke is not a line: a thin horizontal bar is a band, but too thin and uniform.
    pixels = picture((40, 60, 90), (0, 0, 0), None).copy()
    pixels[300:302, 100:600] = 250
    assert cues(pixels) == []


@pytest.mark.parametrize(
    ("name", "at", "size"), [("astronaut", (382, 483), 27), ("coffee", (84, 828), 21)]
)
def test_a_caption_on_a_busy_photo_is_the_best_cue(
    name: str, at: tuple[int, int], size: int
) -> None:
    # An outlined caption (18 and 14 px once shrunk to 1024 px) on a suit's folds and on a
    # wooden table: its whole band, with the capitals, "d", "h", "b" and "y" above and below
    # the x-height and the texture it touches, is no line (the cues before its core was
    # measured found none there); its core is, and ranks first.
    image = Image.fromarray(getattr(data, name)()).convert("RGB").resize((1536, 1024))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size)
    line = "Grandma's birthday"
    draw.text(at, line, fill="white", font=font, stroke_width=1, stroke_fill="black")
    x0, y0, x1, y1 = (round(edge / 1.5) for edge in draw.textbbox(at, line, font=font))
    found = cues(np.asarray(image.resize((1024, 683))))
    assert found
    _, best = found[0]
    assert best[0] < x1
    assert x0 < best[2]
    assert best[1] < y1
    assert y0 < best[3]


def test_a_large_line_is_found_at_a_smaller_scale() -> None:
    # 60 px letters have strokes wider than CUE_KERNEL: only the half- or quarter-size
    # picture gives their core, returned in the picture's own pixels.
    image = Image.fromarray(picture((40, 60, 90), (250, 250, 250), None))
    ImageDraw.Draw(image).text((100, 300), LINE, fill="white", font=ImageFont.load_default(size=60))
    found = cues(np.asarray(image))
    assert found
    _, (x0, y0, x1, y1) = found[0]
    assert x0 < 150
    assert x1 > 500
    assert y1 - y0 > 24  # taller than any core found at full size


def test_core_is_the_longest_run_of_covered_rows() -> None:
    band = np.zeros((20, 50), dtype=np.uint8)
    band[0:3, 0:10] = 255  # an ascender: a fifth of the width
    band[5:12, :] = 255  # the x-height: the whole width
    band[5:12, 20:25] = 0  # a gap between words still leaves 0.9 of each row
    band[14:16, 0:40] = 255  # texture below, 0.8 of the width but only 2 rows
    assert core(band) == (5, 12)
    assert core(np.zeros((8, 50), dtype=np.uint8)) == (0, 0)


def test_windows_join_a_line_and_rank_by_sum() -> None:
    ranked = [
        (50.0, (100, 100, 160, 110)),  # alone, the best single cue
        (30.0, (400, 300, 460, 310)),
        (30.0, (470, 300, 530, 310)),  # the next word on its line: 60 together
    ]
    got = windows(ranked, 1024, 683)
    # Margins of 2 core heights beside the line, 1.5 above and below.
    assert got == [((380, 285, 550, 325), 10), ((80, 85, 180, 125), 10)]


def test_windows_keep_apart_lines_above_and_below_and_of_other_heights() -> None:
    ranked = [
        (50.0, (100, 100, 200, 110)),
        (40.0, (100, 112, 200, 122)),  # the next line down: no rows shared
        (30.0, (210, 100, 300, 130)),  # beside it, but three times as high
        (20.0, (101, 101, 199, 111)),  # the first line found again at another scale
    ]
    got = windows(ranked, 1024, 683)
    assert [height for _, height in got] == [10, 10, 30]
    assert got[0] == ((80, 85, 220, 126), 10)  # 50 + 20: the first line, ranked best


def test_windows_stay_inside_the_picture() -> None:
    assert windows([(10.0, (0, 0, 50, 10))], 40, 15) == [((0, 0, 40, 15), 10)]


def test_mosaic_holds_the_windows_within_its_budget() -> None:
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 255, (683, 1024, 3), dtype=np.uint8)
    found = [((0, 0, 300, 40), 10), ((500, 100, 900, 140), 12), ((10, 600, 410, 630), 8)]
    canvas = mosaic(bgr, found, 96 * 736)
    assert canvas.shape == (96, 736, 3)  # 78 x 708 px, each side up to a multiple of 32
    # The first two share a row (300 + GAP + 400 px); the third, too wide to follow them in a
    # 1024 px row, starts the next one.
    assert np.array_equal(canvas[0:40, 0:300], bgr[0:40, 0:300])
    assert np.array_equal(canvas[0:40, 300 + GAP : 700 + GAP], bgr[100:140, 500:900])
    assert np.array_equal(canvas[40 + GAP : 70 + GAP, 0:400], bgr[600:630, 10:410])
    assert (canvas[0:40, 300 : 300 + GAP] == 128).all()


def test_mosaic_shrinks_a_tall_line_to_line_height() -> None:
    bgr = np.full((683, 1024, 3), 200, dtype=np.uint8)
    # A line whose core is 3 * LINE_HEIGHT px: its window shrinks to a third.
    canvas = mosaic(bgr, [((0, 0, 300, 90), 3 * LINE_HEIGHT)], 32768)
    assert canvas.shape == (32, 128, 3)
    assert (canvas[0:30, 0:100] == 200).all()
    assert (canvas[30:, :] == 128).all()
    assert (canvas[:, 100:] == 128).all()


def test_mosaic_keeps_the_middle_of_a_best_line_too_long_and_skips_others() -> None:
    bgr = np.zeros((683, 1024, 3), dtype=np.uint8)
    bgr[0:40, 300:500] = 200
    bgr[600:630, 10:110] = 100
    # The best is 64x800 px once padded, over a 64x256 budget: its middle 256 px stay.
    long_line = ((0, 0, 800, 40), 10)
    canvas = mosaic(bgr, [long_line, ((0, 100, 800, 140), 10)], 64 * 256)
    assert canvas.shape == (64, 256, 3)
    assert np.array_equal(canvas[0:40], bgr[0:40, 272:528])
    # A later window that does not fit is left out, and a smaller one after it taken.
    canvas = mosaic(bgr, [((10, 600, 110, 630), 10), long_line], 32 * 256)
    assert canvas.shape == (32, 128, 3)
    assert (canvas[0:30, 0:100] == 100).all()
    assert mosaic(bgr, [], 32 * 256).size == 0
