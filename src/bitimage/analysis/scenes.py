"""Scene words ImageNet has no class for (sky, sunset, plant cover, grass, leaf, forest).

No scene model ships inside a package under a permissive licence (README, Image analysis), so
these words come from explained rules on a 64x64 thumbnail of the whole picture, and for a forest
from the classifier's own probabilities. Each rule, its thresholds and what they cost in wrong
words were calibrated with bench/bench_labels.py on 34 everyday photos (bench/README.md):
- sky: most of the top third is smooth and sky blue, and the bottom third is not (a sky stands
  above something else: a blue backdrop or water filling the frame is not a sky);
- sunset: a sky with either the sun in it (a few blown-out pixels in the upper half) or a warm
  upper half, over ground much darker than the sky (a backlit horizon);
- plant cover: most of the frame is foliage green, and not flat (flat green is paint) -> "plant";
  fine upright blades (strong horizontal gradients, far more than vertical ones) -> "grass",
  otherwise leaves -> "leaf";
- forest: the classifier sees a landscape (valley, mountain...: their probabilities summed, even
  when no single class passes the floor) whose top is textured and not sky: trees close the view.
A word's confidence is the share or probability mass that passed its threshold, capped at 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import numpy as np
from PIL import Image

from bitimage.analysis.ports import Label

SIDE = 64  # the thumbnail's side: statistics of regions, not details
SMOOTH = 0.04  # a pixel's |dx| + |dy| (grey, 0..1) below this is smooth (a clear or overcast sky)


@dataclass(frozen=True)
class Rules:
    """The rules' thresholds (RULES: calibrated with bench/bench_labels.py)."""

    sky_top: float = 0.6  # share of the top third that is smooth sky blue
    sky_bottom: float = 0.3  # ... while at most this share of the bottom third is
    sun: float = 0.01  # share of the upper half blown out (V >= 0.97): the sun or its glare
    warm: float = 0.3  # or share of the upper half in warm saturated hues (orange, red, yellow)
    backlit: float = 0.4  # the bottom third's brightness at most this fraction of the top's
    green: float = 0.75  # share of the frame in foliage green
    foliage_texture: float = 0.02  # mean |dx| + |dy| of the frame: flat green is paint, not leaves
    grass_gradient: float = 0.05  # mean |dx| of grass blades (grey, 0..1, 128 px side)
    grass_ratio: float = 2.5  # |dx| over |dy|: upright blades
    forest_mass: float = 0.5  # summed probability of the classifier's landscape classes
    forest_texture: float = 0.1  # mean |dx| + |dy| of the top third (foliage, not sky, rock)
    forest_sky: float = 0.2  # at most this share of the top third is sky blue


RULES = Rules()

# Each scene word with the everyday parents it implies (as the vocabulary does for classes).
PARENTS: dict[str, tuple[str, ...]] = {
    "sky": (),
    "sunset": ("sky", "landscape"),
    "plant": (),
    "grass": ("plant",),
    "leaf": ("plant",),
    "forest": ("tree", "landscape"),
}


class NamedClass(Protocol):
    """What the scene rules read of a classifier class: its everyday words."""

    @property
    def categories(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Statistics:
    """The measured quantities behind the rules (the `scenes` facts)."""

    sky_top: float
    sky_bottom: float
    sun: float
    warm: float
    backlit: float
    green: float
    texture: float
    gradient_x: float
    gradient_ratio: float
    top_texture: float
    landscape: float


@cache
def _landscape_classes(classes: tuple[NamedClass, ...]) -> list[int]:
    return [i for i, c in enumerate(classes) if "landscape" in c.categories]


def measure(image: Image.Image, probabilities: Any, classes: Sequence[NamedClass]) -> Statistics:
    """The rules' inputs: region statistics of `image` and the classifier's landscape mass."""
    # One box-filtered pass over the full picture; everything else reads the 128 px copy.
    fine = (image if image.mode == "RGB" else image.convert("RGB")).resize(
        (2 * SIDE, 2 * SIDE), Image.Resampling.BOX
    )
    small = fine.resize((SIDE, SIDE), Image.Resampling.BOX)
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32) / 255
    hue, saturation, value = hsv[..., 0] * 360, hsv[..., 1], hsv[..., 2]
    grey = np.asarray(small.convert("L"), dtype=np.float32) / 255
    texture = np.zeros_like(grey)
    texture[:, 1:] += np.abs(np.diff(grey, axis=1))
    texture[1:, :] += np.abs(np.diff(grey, axis=0))
    third, half = SIDE // 3, SIDE // 2
    blue = (hue > 180) & (hue < 260) & (saturation > 0.15) & (value > 0.35)
    sky = blue & (texture < SMOOTH)
    warm = ((hue < 60) | (hue > 330)) & (saturation > 0.3) & (value > 0.6)
    green = (hue > 50) & (hue < 170) & (saturation > 0.25) & (value > 0.15)
    fine_grey = np.asarray(fine.convert("L"), dtype=np.float32) / 255
    dx = float(np.abs(np.diff(fine_grey, axis=1)).mean())
    dy = float(np.abs(np.diff(fine_grey, axis=0)).mean())
    landscape = float(np.asarray(probabilities)[_landscape_classes(tuple(classes))].sum())
    top_value = float(value[:third].mean())
    return Statistics(
        sky_top=float(sky[:third].mean()),
        sky_bottom=float(sky[-third:].mean()),
        sun=float((value[:half] >= 0.97).mean()),
        warm=float(warm[:half].mean()),
        backlit=float(value[-third:].mean()) / max(top_value, 1e-6),
        green=float(green.mean()),
        texture=float(texture.mean()),
        gradient_x=dx,
        gradient_ratio=dx / max(dy, 1e-6),
        top_texture=float(texture[:third].mean()),
        landscape=landscape,
    )


def scene_scores(stats: Statistics, rules: Rules = RULES) -> dict[str, float]:
    """The scene words whose rule holds, with their confidence (parents not yet added)."""
    found: dict[str, float] = {}
    if stats.sky_top >= rules.sky_top and stats.sky_bottom <= rules.sky_bottom:
        found["sky"] = stats.sky_top
        lit = stats.sun >= rules.sun or stats.warm >= rules.warm
        if lit and stats.backlit <= rules.backlit:
            found["sunset"] = 1 - stats.backlit
    if stats.green >= rules.green and stats.texture >= rules.foliage_texture:
        found["plant"] = stats.green
        upright = stats.gradient_ratio >= rules.grass_ratio
        grass = upright and stats.gradient_x >= rules.grass_gradient
        found["grass" if grass else "leaf"] = stats.green
    closed = stats.sky_top <= rules.forest_sky and stats.top_texture >= rules.forest_texture
    if stats.landscape >= rules.forest_mass and closed:
        found["forest"] = stats.landscape
    return found


def scene_labels(stats: Statistics, rules: Rules = RULES) -> list[Label]:
    """Scene words and their parents; a parent takes the best confidence of its scenes."""
    scores: dict[str, float] = {}
    for word, score in scene_scores(stats, rules).items():
        for name in (word, *PARENTS[word]):
            scores[name] = max(scores.get(name, 0.0), min(score, 1.0))
    return [Label(name, round(score, 4)) for name, score in scores.items()]
