"""Dominant colours as labels ("green", "blue"), from a small thumbnail's pixels."""

from __future__ import annotations

import colorsys
from collections import Counter

from bitimage.analysis.ports import AnalysisResult, DecodedImage, Label

MIN_SHARE = 0.15  # a colour must cover this much of the picture to be a label
_SAMPLE = 48

# Hue ranges (degrees) of the basic colour names, for saturated and bright enough pixels.
_HUES = [
    (15, "red"),
    (40, "orange"),
    (70, "yellow"),
    (160, "green"),
    (200, "cyan"),
    (260, "blue"),
    (290, "purple"),
    (335, "pink"),
    (360, "red"),
]


# Every name colour_name() can give: the words a colour label may hold.
COLOUR_NAMES = ("black", "white", "gray", "brown", *dict.fromkeys(name for _, name in _HUES))


def colour_name(red: int, green: int, blue: int) -> str:
    """The basic colour name of one RGB pixel."""
    hue, lightness, saturation = colorsys.rgb_to_hls(red / 255, green / 255, blue / 255)
    if lightness < 0.12:
        return "black"
    if lightness > 0.9:
        return "white"
    if saturation < 0.2:
        return "gray"
    degrees = hue * 360
    name = next(label for limit, label in _HUES if degrees < limit)
    if name in ("orange", "red") and lightness < 0.35:
        return "brown"
    return name


class ColourAnalyser:
    """Names the colours that cover at least MIN_SHARE of the image."""

    name = "colours"
    model = "basic-colour-names@1"

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        """Labels for the dominant colours, confidence = share of the picture."""
        raw = image.pixels.resize((_SAMPLE, _SAMPLE)).tobytes()  # RGB, 3 bytes a pixel
        counts = Counter(
            colour_name(*pixel) for pixel in zip(raw[0::3], raw[1::3], raw[2::3], strict=True)
        )
        total = sum(counts.values())
        shares = {name: count / total for name, count in counts.most_common()}
        labels = [
            Label(name, round(share, 4)) for name, share in shares.items() if share >= MIN_SHARE
        ]
        dominant = [name for name, share in shares.items() if share >= MIN_SHARE / 3][:5]
        return AnalysisResult(labels=labels, facts={"colours": dominant})
