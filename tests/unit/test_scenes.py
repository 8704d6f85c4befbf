"""Scene words from region statistics and the classifier's landscape mass (no model needed)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from bitimage.analysis.classifier import imagenet_classes
from bitimage.analysis.scenes import (
    PARENTS,
    RULES,
    Statistics,
    measure,
    scene_labels,
    scene_scores,
)

HEIGHT, WIDTH = 300, 400
RNG = np.random.default_rng(15)


def nothing() -> np.ndarray[Any, Any]:
    return np.zeros(len(imagenet_classes()), dtype=np.float32)


def probabilities(**by_name: float) -> np.ndarray[Any, Any]:
    found = nothing()
    for index, c in enumerate(imagenet_classes()):
        found[index] = by_name.get(c.name, 0.0)
    return found


def sky_over_ground(ground: tuple[int, int], horizon: float = 0.6) -> np.ndarray[Any, Any]:
    """A smooth blue gradient sky over rough ground whose grey levels span `ground`."""
    pixels = RNG.integers(*ground, (HEIGHT, WIDTH, 3)).astype(np.float64)
    line = int(HEIGHT * horizon)
    fade = np.linspace(0, 1, line)[:, None, None]
    top, low = np.array([60.0, 120.0, 215.0]), np.array([150.0, 190.0, 240.0])
    pixels[:line] = top + (low - top) * fade + RNG.normal(0, 1.0, (line, WIDTH, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def words(pixels: np.ndarray[Any, Any], probs: np.ndarray[Any, Any] | None = None) -> set[str]:
    stats = measure(
        Image.fromarray(pixels), nothing() if probs is None else probs, imagenet_classes()
    )
    return {label.name for label in scene_labels(stats)}


def test_a_clear_sky_over_land_is_a_sky_and_not_a_sunset() -> None:
    found = words(sky_over_ground((60, 160)))
    assert "sky" in found
    assert not found & {"sunset", "forest", "grass", "leaf"}


def test_a_low_sun_over_dark_ground_is_a_sunset_and_a_landscape() -> None:
    pixels = sky_over_ground((0, 40))
    yy, xx = np.ogrid[:HEIGHT, :WIDTH]
    pixels[(yy - 120) ** 2 + (xx - 200) ** 2 <= 18**2] = (255, 255, 250)  # sun above the horizon
    assert {"sky", "sunset", "landscape"} <= words(pixels)


def test_a_blue_backdrop_filling_the_frame_is_not_a_sky() -> None:
    pixels = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    pixels[:] = (90, 150, 225)
    assert "sky" not in words(pixels)


def test_a_grey_wall_above_a_room_is_not_a_sky() -> None:
    pixels = sky_over_ground((60, 160))
    pixels[: int(HEIGHT * 0.6)] = (200, 200, 205)
    assert "sky" not in words(pixels)


def test_upright_green_blades_are_grass_and_broad_green_is_leaf() -> None:
    columns = RNG.integers(60, 220, WIDTH)
    blades = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    blades[..., 1] = columns[None, :]
    blades[..., 0] = columns[None, :] // 3
    assert {"grass", "plant"} <= words(blades)
    assert "leaf" not in words(blades)
    ramp = np.linspace(110, 190, WIDTH)[None, :].repeat(HEIGHT, 0)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    ramp[(xx + yy) % 24 < 3] *= 0.6  # veins
    leaf = np.stack([ramp * 0.4, ramp, ramp * 0.2], -1).astype(np.uint8)
    assert {"leaf", "plant"} <= words(leaf)
    assert "grass" not in words(leaf)


def test_flat_green_is_paint_not_a_plant() -> None:
    flat = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    flat[:] = (30, 160, 40)
    assert not words(flat) & {"plant", "leaf", "grass"}


def test_a_landscape_closed_by_texture_is_a_forest_one_under_sky_is_not() -> None:
    leaves = RNG.integers(20, 200, (HEIGHT // 10, WIDTH // 10, 3)).astype(np.uint8)
    rough = np.asarray(Image.fromarray(leaves).resize((WIDTH, HEIGHT), Image.Resampling.NEAREST))
    valley = probabilities(valley=0.7, cliff=0.1)
    assert {"forest", "tree", "landscape"} <= words(rough, valley)
    assert "forest" not in words(rough, probabilities(valley=0.2))
    assert "forest" not in words(sky_over_ground((20, 200)), valley)


def test_landscape_mass_sums_every_landscape_class() -> None:
    stats = measure(
        Image.new("RGB", (64, 64)),
        probabilities(valley=0.2, mountain=0.15, lakeshore=0.1, cat=0.3),
        imagenet_classes(),
    )
    assert abs(stats.landscape - 0.45) < 1e-6


def statistics(**changed: float) -> Statistics:
    plain = dict.fromkeys(Statistics.__dataclass_fields__, 0.0)
    defaults = {"backlit": 1.0, "gradient_ratio": 1.0, "texture": 0.1}
    return Statistics(**{**plain, **defaults, **changed})


def test_each_threshold_decides_its_word() -> None:
    assert "sky" in scene_scores(statistics(sky_top=RULES.sky_top))
    assert "sky" not in scene_scores(statistics(sky_top=RULES.sky_top - 0.01))
    assert "sky" not in scene_scores(statistics(sky_top=0.9, sky_bottom=RULES.sky_bottom + 0.01))
    warm = statistics(sky_top=0.9, warm=RULES.warm, backlit=RULES.backlit)
    assert "sunset" in scene_scores(warm)
    assert "sunset" not in scene_scores(replace(warm, backlit=RULES.backlit + 0.01))
    assert "sunset" not in scene_scores(replace(warm, warm=RULES.warm - 0.01))
    assert "plant" in scene_scores(statistics(green=RULES.green))
    assert "plant" not in scene_scores(statistics(green=RULES.green - 0.01))
    flat = statistics(green=1.0, texture=RULES.foliage_texture - 0.001)
    assert "plant" not in scene_scores(flat)
    forest = statistics(landscape=RULES.forest_mass, top_texture=RULES.forest_texture)
    assert "forest" in scene_scores(forest)
    assert "forest" not in scene_scores(replace(forest, top_texture=RULES.forest_texture - 0.01))


def test_labels_carry_parents_at_the_best_confidence_within_0_and_1() -> None:
    labels = scene_labels(statistics(sky_top=1.0, sun=0.5, backlit=0.1, green=1.0))
    scores = {label.name: label.confidence for label in labels}
    for word in ("sky", "sunset", "plant", "leaf"):
        assert all(parent in scores for parent in PARENTS[word])
    assert scores["sky"] == 1.0
    assert scores["sunset"] == 0.9
    assert all(0 <= label.confidence <= 1 for label in labels)
