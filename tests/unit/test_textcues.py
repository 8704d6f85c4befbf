"""The OCR gate's small-text cues (textcues.py): where thin strokes form a line, and the mosaic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bitimage.analysis.textcues import GAP, Box, cues, mosaic, windows

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


def test_windows_merge_overlaps_and_rank_by_sum() -> None:
    ranked = [
        (50.0, (100, 100, 160, 110)),  # alone, the best single cue
        (30.0, (400, 300, 460, 310)),
        (30.0, (470, 300, 530, 310)),  # overlaps the one before once grown: 60 together
    ]
    got = windows(ranked, 1024, 683)
    assert got == [(380, 290, 550, 320), (80, 90, 180, 120)]


def test_windows_stay_inside_the_picture() -> None:
    assert windows([(10.0, (0, 0, 50, 10))], 40, 15) == [(0, 0, 40, 15)]


def test_mosaic_holds_the_windows_within_its_budget() -> None:
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 255, (683, 1024, 3), dtype=np.uint8)
    boxes = [(0, 0, 300, 40), (500, 100, 900, 140), (10, 600, 410, 630)]
    canvas = mosaic(bgr, boxes, 96 * 736)
    assert canvas.shape == (96, 736, 3)  # 78 x 708 px, each side up to a multiple of 32
    # The first two share a row (300 + GAP + 400 px); the third, too wide to follow them in a
    # 1024 px row, starts the next one.
    assert np.array_equal(canvas[0:40, 0:300], bgr[0:40, 0:300])
    assert np.array_equal(canvas[0:40, 300 + GAP : 700 + GAP], bgr[100:140, 500:900])
    assert np.array_equal(canvas[40 + GAP : 70 + GAP, 0:400], bgr[600:630, 10:410])
    assert (canvas[0:40, 300 : 300 + GAP] == 128).all()


def test_mosaic_skips_what_does_not_fit_and_takes_a_smaller_one() -> None:
    bgr = np.zeros((683, 1024, 3), dtype=np.uint8)
    bgr[600:630, 10:110] = 200
    # The first is 64x800 px once padded: over a 32x256 budget; the second fits.
    canvas = mosaic(bgr, [(0, 0, 800, 40), (10, 600, 110, 630)], 32 * 256)
    assert canvas.shape == (32, 128, 3)
    assert (canvas[0:30, 0:100] == 200).all()
    assert mosaic(bgr, [(0, 0, 800, 40)], 32 * 256).size == 0
