"""Where text may be: bands of thin strokes shaped like a line, found with OpenCV filters.

The OCR gate's detector runs at GATE_SIDE px, where a line under about 28 px of the decoded
picture shrinks below what it finds; running it at full size on the whole picture costs as
much as the full reading. So this finds the few places worth a look: a top-hat (and a
black-hat, for dark text) keeps strokes thinner than CUE_KERNEL px, a short horizontal closing
joins a word's letters into a band, an opening cuts away thin upright lines (a lattice, a
letter's stem) that would tie the band to what is above and below it, and the band's core (its
rows that the joined letters fill across, a line's x-height without its ascenders, descenders
or the texture it touches) must be shaped like a line and mostly filled. The same runs on the
picture at half and a quarter of its size, for lines up to four times as high.

Textures (grass, bricks, a rocket's tower) give such bands too: the detector, run on `mosaic`
of the best windows, each shrunk so that its line is at most LINE_HEIGHT px high, rejects them,
and the mosaic's size caps what that costs.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

CUE_KERNEL = 11  # strokes of text up to ~24 px high are thinner than this; a wall is not
CUE_CONTRAST = 40  # grey levels a stroke stands out from its surroundings by (25 let in grass)
CUE_JOIN = 7  # px between letters that the closing bridges
CUE_RUN = 11  # px a band of joined letters runs across, at least
CUE_MIN_HEIGHT, CUE_MAX_HEIGHT = 5, 24  # the core is about a line's x-height
CUE_MIN_WIDTH = 40  # a word of four small letters
CUE_MIN_ASPECT = 3.0  # a line is at least three times as wide as high
# A row belongs to the core when the band covers this share of its width. Measured on the
# whole band instead, a 16-18 px caption with ascenders and descenders ("Grandma's birthday")
# covered under 0.6 of its box, and one touching texture grew past CUE_MAX_HEIGHT: 8 of 40
# bench_ocr captions were not cues.
CUE_CORE = 0.6
CUE_MIN_FILL = 0.6  # share of its core the band covers: letters are dense, texture is not
CUE_LIMIT = 64  # cues per scale: the rest cannot win a place in the mosaic
CUE_SCALES = (1.0, 0.5, 0.25)  # a quarter: cores up to 96 px, a 60 px caption and more
# Margins of a window around its line, in core heights: the rest of the line, the ascenders
# and descenders, and room for the detector (1.0 above and below lost a caption at the edge).
MARGIN_X, MARGIN_Y = 2.0, 1.5
LINE_HEIGHT = 12  # px a window's core is shrunk to at most: the detector finds 7 px x-heights
GAP = 8  # px of grey between the windows of the mosaic: no detected box spans two windows

Box = tuple[int, int, int, int]  # x0, y0, x1, y1
Window = tuple[Box, int]  # a window and the core height of its line


def cues(rgb: np.ndarray[Any, Any]) -> list[tuple[float, Box]]:
    """Line cores at every scale, in the picture's pixels, best first, each with its rank.

    The rank is the core's length at the scale it was found at, so a line found at full size
    outranks a band of the same length found at half size.
    """
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    found: list[tuple[float, Box]] = []
    for scale in CUE_SCALES:
        scaled = (
            grey
            if scale == 1
            else cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        for rank, (x0, y0, x1, y1) in _cues_at(scaled):
            box = (round(x0 / scale), round(y0 / scale), round(x1 / scale), round(y1 / scale))
            found.append((rank, box))
    return sorted(found, key=lambda cue: cue[0], reverse=True)


def _cues_at(grey: np.ndarray[Any, Any]) -> list[tuple[float, Box]]:
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
    return sorted(found, key=lambda cue: cue[0], reverse=True)[:CUE_LIMIT]


def _bands(mask: np.ndarray[Any, Any]) -> list[tuple[float, Box]]:
    # Outlines, not labelled components: grass gives thousands, and this is 3 times faster.
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found: list[tuple[float, Box]] = []
    for contour in contours:
        x0, y0, w, h = cv2.boundingRect(contour)
        if w < CUE_MIN_WIDTH or h < CUE_MIN_HEIGHT:
            continue
        top, bottom = core(mask[y0 : y0 + h, x0 : x0 + w])
        y0, h = y0 + top, bottom - top
        if not CUE_MIN_HEIGHT <= h <= CUE_MAX_HEIGHT or w < CUE_MIN_ASPECT * h:
            continue
        filled = cv2.countNonZero(mask[y0 : y0 + h, x0 : x0 + w])
        if filled >= CUE_MIN_FILL * w * h:
            # A long, filled line is likelier text than a short one: rank by its length.
            found.append((filled / h, (x0, y0, x0 + w, y0 + h)))
    return found


def core(band: np.ndarray[Any, Any]) -> tuple[int, int]:
    """The longest run of rows (top, bottom) that cover CUE_CORE of the band's width."""
    rows = np.count_nonzero(band, axis=1) >= CUE_CORE * band.shape[1]
    edges = np.diff(np.concatenate(([0], rows.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return 0, 0
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])


def windows(ranked: list[tuple[float, Box]], width: int, height: int) -> list[Window]:
    """The cues joined into lines, each with margins and its core height, best first.

    A cue joins a line (the first of the better ones it fits) when they share half the
    smaller height, their heights are within 1.5 times, and the gap between them is at most
    twice the taller: a word beside the next, or one line found at two scales. A line ranks
    by the sum of its cues' ranks.
    """
    lines: list[tuple[float, Box, int]] = []
    for rank, (x0, y0, x1, y1) in ranked:
        h = y1 - y0
        for i, (total, (lx0, ly0, lx1, ly1), lh) in enumerate(lines):
            shared = min(y1, ly1) - max(y0, ly0)
            gap = max(lx0 - x1, x0 - lx1)
            if (
                shared >= min(h, lh) / 2
                and 2 * lh <= 3 * h
                and 2 * h <= 3 * lh
                and gap <= 2 * max(h, lh)
            ):
                joined = (min(x0, lx0), min(y0, ly0), max(x1, lx1), max(y1, ly1))
                lines[i] = (total + rank, joined, lh)
                break
        else:
            lines.append((rank, (x0, y0, x1, y1), h))
    found: list[Window] = []
    for _, (x0, y0, x1, y1), h in sorted(lines, key=lambda line: line[0], reverse=True):
        mx, my = round(MARGIN_X * h), round(MARGIN_Y * h)
        box = (max(0, x0 - mx), max(0, y0 - my), min(width, x1 + mx), min(height, y1 + my))
        found.append((box, h))
    return found


def mosaic(bgr: np.ndarray[Any, Any], found: list[Window], budget: int) -> np.ndarray[Any, Any]:
    """The windows, best first, cut from `bgr`, shrunk to LINE_HEIGHT, packed in rows on grey.

    The canvas is at most `budget` pixels (each side a multiple of 32 px, as the detector
    wants) and as wide as `bgr`; a window that no longer fits is left out and the next one
    tried, but the best one, when too long to fit alone, keeps its middle. An empty canvas
    (0x0) when none fits.
    """
    width = bgr.shape[1]
    placed: list[tuple[int, int, np.ndarray[Any, Any]]] = []
    x = y = row = used = 0
    for (x0, y0, x1, y1), h in found:
        piece = bgr[y0:y1, x0:x1]
        if piece.size == 0:  # a window given outside `bgr`
            continue
        if h > LINE_HEIGHT:
            size = (
                max(1, round((x1 - x0) * LINE_HEIGHT / h)),
                max(1, round((y1 - y0) * LINE_HEIGHT / h)),
            )
            piece = cv2.resize(piece, size, interpolation=cv2.INTER_AREA)
        ph, pw = piece.shape[:2]
        if not placed and _up32(pw) * _up32(ph) > budget:
            # The best line is likely texture joined to text; its middle holds the most of it.
            keep = budget // _up32(ph) // 32 * 32
            piece = piece[:, max(0, (pw - keep) // 2) :][:, :keep]
            ph, pw = piece.shape[:2]
        nx, ny, nrow = (0, y + row + GAP, ph) if x and x + pw > width else (x, y, max(row, ph))
        if pw == 0 or _up32(max(used, nx + pw)) * _up32(ny + nrow) > budget:
            continue
        placed.append((nx, ny, piece))
        x, y, row, used = nx + pw + GAP, ny, nrow, max(used, nx + pw)
    canvas = np.full((_up32(y + row), _up32(used), 3), 128, dtype=np.uint8)
    for px, py, piece in placed:
        canvas[py : py + piece.shape[0], px : px + piece.shape[1]] = piece
    return canvas


def _up32(size: int) -> int:
    return -(-size // 32) * 32
