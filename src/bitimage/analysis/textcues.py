"""Where small text may be: bands of thin strokes shaped like a line, found with OpenCV filters.

The OCR gate's detector runs at GATE_SIDE px, where a 12 px line of the decoded picture shrinks
to under 5 px and is not found; running it at full size on the whole picture costs as much as
the full reading. So this finds the few places worth a look at full size: a top-hat (and a
black-hat, for dark text) keeps strokes thinner than CUE_KERNEL px, a short horizontal closing
joins a word's letters into a band, an opening cuts away thin upright lines (a lattice, a
letter's stem) that would tie the band to what is above and below it, and bands shaped like
the core of a line of small text, and mostly filled, are kept. Textures (grass, bricks, a
rocket's tower) give such bands too: the detector, run on `mosaic` of the best windows, rejects
them, and the mosaic's size caps what that costs.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

CUE_KERNEL = 11  # strokes of text up to ~24 px high are thinner than this; a wall is not
CUE_CONTRAST = 40  # grey levels a stroke stands out from its surroundings by
CUE_JOIN = 7  # px between letters that the closing bridges
CUE_RUN = 11  # px a band of joined letters runs across, at least
CUE_MIN_HEIGHT, CUE_MAX_HEIGHT = 5, 24  # the band is about a line's x-height
CUE_MIN_WIDTH = 40  # a word of four small letters
CUE_MIN_ASPECT = 3.0  # a line is at least three times as wide as high
CUE_MIN_FILL = 0.6  # share of its box the band covers: letters are dense, texture is not
CUE_LIMIT = 64  # cues ranked before merging: the rest cannot win a place in the mosaic
GAP = 8  # px of grey between the windows of the mosaic: no detected box spans two windows

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


def cues(rgb: np.ndarray[Any, Any]) -> list[tuple[float, Box]]:
    """Bands shaped like a line of small text, best first, each with its rank (its length)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (CUE_KERNEL, CUE_KERNEL))
    join = cv2.getStructuringElement(cv2.MORPH_RECT, (CUE_JOIN, 1))
    cut = cv2.getStructuringElement(cv2.MORPH_RECT, (CUE_RUN, 1))
    found: list[tuple[float, Box]] = []
    # Light and dark strokes apart: outlined text gives both, and one mask of the two joins a
    # line to its descenders' band and halves how filled it looks.
    for operation in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
        strokes = cv2.morphologyEx(grey, operation, kernel)
        _, mask = cv2.threshold(strokes, CUE_CONTRAST, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, join)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cut)
        found.extend(_bands(mask))
    return sorted(found, reverse=True)[:CUE_LIMIT]


def _bands(mask: np.ndarray[Any, Any]) -> list[tuple[float, Box]]:
    # Outlines, not labelled components: grass gives thousands, and this is 3 times faster.
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return []
    x, y, w, h = np.array([cv2.boundingRect(contour) for contour in contours]).T
    shaped = (
        (h >= CUE_MIN_HEIGHT)
        & (h <= CUE_MAX_HEIGHT)
        & (w >= np.maximum(CUE_MIN_WIDTH, CUE_MIN_ASPECT * h))
    )
    found: list[tuple[float, Box]] = []
    for x0, y0, x1, y1 in zip(x[shaped], y[shaped], (x + w)[shaped], (y + h)[shaped], strict=True):
        filled = cv2.countNonZero(mask[y0:y1, x0:x1])
        if filled >= CUE_MIN_FILL * (x1 - x0) * (y1 - y0):
            # A long, filled band is likelier a line than a short one: rank by its length.
            found.append((filled / (y1 - y0), (int(x0), int(y0), int(x1), int(y1))))
    return found


def windows(ranked: list[tuple[float, Box]], width: int, height: int) -> list[Box]:
    """Each cue with a margin for the rest of its line, overlapping ones merged, best first.

    A merged window ranks by the sum of its cues' ranks.
    """
    merged: list[tuple[float, Box]] = []
    for rank, (x0, y0, x1, y1) in ranked:
        h = y1 - y0
        box = (max(0, x0 - 2 * h), max(0, y0 - h), min(width, x1 + 2 * h), min(height, y1 + h))
        for i, (total, other) in enumerate(merged):
            if box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]:
                grown = (
                    min(box[0], other[0]),
                    min(box[1], other[1]),
                    max(box[2], other[2]),
                    max(box[3], other[3]),
                )
                merged[i] = (total + rank, grown)
                break
        else:
            merged.append((rank, box))
    return [box for _, box in sorted(merged, key=lambda pair: pair[0], reverse=True)]


def mosaic(bgr: np.ndarray[Any, Any], boxes: list[Box], budget: int) -> np.ndarray[Any, Any]:
    """The windows, best first, cut from `bgr` and packed in rows on grey, while they fit.

    The canvas is at most `budget` pixels (each side a multiple of 32 px, as the detector
    wants); a window that no longer fits is left out and the next one tried. An empty canvas
    (0x0) when none fits.
    """
    width = bgr.shape[1]
    placed: list[tuple[int, int, Box]] = []
    x = y = row = used = 0
    for box in boxes:
        w, h = box[2] - box[0], box[3] - box[1]
        nx, ny, nrow = (0, y + row + GAP, h) if x and x + w > width else (x, y, max(row, h))
        if _up32(max(used, nx + w)) * _up32(ny + nrow) > budget:
            continue
        placed.append((nx, ny, box))
        x, y, row, used = nx + w + GAP, ny, nrow, max(used, nx + w)
    canvas = np.full((_up32(y + row), _up32(used), 3), 128, dtype=np.uint8)
    for px, py, (x0, y0, x1, y1) in placed:
        canvas[py : py + y1 - y0, px : px + x1 - x0] = bgr[y0:y1, x0:x1]
    return canvas


def _up32(size: int) -> int:
    return -(-size // 32) * 32
