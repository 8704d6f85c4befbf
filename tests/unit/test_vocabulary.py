"""The everyday vocabulary and the calibrated class selection (no model needed)."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from bitimage.analysis.classifier import imagenet_classes, select
from bitimage.analysis.vocabulary import Vocabulary, vocabulary


def raw_document() -> dict[str, dict[str, list[str]]]:
    text = resources.files("bitimage.analysis").joinpath("data/everyday_words.json").read_text()
    document: dict[str, dict[str, list[str]]] = json.loads(text)
    return document


def words_of(name: str) -> tuple[str, ...]:
    return next(c.categories for c in imagenet_classes() if c.name == name)


def test_every_key_names_a_class_or_a_category() -> None:
    document = raw_document()
    raw = json.loads(
        resources.files("bitimage.analysis").joinpath("data/imagenet_labels.json").read_text()
    )["classes"]
    names = {c["name"] for c in raw}
    categories = {c for entry in raw for c in entry["categories"]}
    assert set(document["classes"]) <= names
    assert set(document["categories"]) <= categories
    for words in [*document["classes"].values(), *document["categories"].values()]:
        assert words
        assert all(w == w.strip().lower() and w for w in words)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lighthouse", {"building", "tower", "coast", "sea"}),
        ("dome", {"building", "roof"}),
        ("palace", {"building", "landmark"}),
        ("church", {"building", "place of worship"}),
        ("beach", {"beach", "sea", "water"}),
        ("lakeshore", {"lake", "water", "landscape"}),
        ("valley", {"mountain", "landscape"}),
        ("daisy", {"flower", "plant"}),
        ("acorn", {"tree", "plant"}),
        ("fig", {"fruit", "food", "plant"}),
        ("espresso", {"coffee", "drink", "cup"}),
        ("missile", {"rocket", "vehicle"}),
        ("moped", {"motorcycle", "motorbike", "vehicle"}),
        ("motor scooter", {"scooter", "motorcycle", "vehicle"}),
        ("acoustic guitar", {"musical instrument", "music"}),
        ("tabby cat", {"cat", "animal", "pet"}),
        ("cocker spaniel", {"dog", "animal", "pet"}),
        ("scuba diver", {"person", "sea", "underwater"}),
        ("airliner", {"airplane", "plane", "vehicle"}),
    ],
)
def test_classes_get_the_words_people_type(name: str, expected: set[str]) -> None:
    assert expected <= {name, *words_of(name)}  # the class name is a label too


def test_no_object_or_scene_class_claims_a_face_or_a_person() -> None:
    # Only the face detector and the three ImageNet classes that are people say "person"; and
    # "people" (several) only the face detector, which counts faces.
    people = {c.name for c in imagenet_classes() if {"person", "face"} & set(c.categories)}
    assert people == {"baseball player", "bridegroom", "scuba diver"}
    assert not any({"face", "people"} & set(c.categories) for c in imagenet_classes())


def test_words_close_over_categories_and_drop_the_own_name() -> None:
    vocab = Vocabulary(
        by_category={
            "string instrument": ("musical instrument",),
            "musical instrument": ("music",),
        },
        by_class={"harp": ("harp", "strings")},
    )
    assert vocab.words("harp", ["string instrument"]) == (
        "strings",
        "string instrument",
        "musical instrument",
        "music",
    )
    assert vocabulary().words("unknown", []) == ()


def probabilities(*top: float) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    rest = (1.0 - sum(top)) / (1000 - len(top))
    return np.array([*top, *[rest] * (1000 - len(top))])


def test_select_keeps_classes_until_the_mass_is_reached() -> None:
    assert select(probabilities(0.9, 0.05), mass=0.5, floor=0.1) == [0]
    assert select(probabilities(0.4, 0.36, 0.17), mass=0.5, floor=0.1) == [0, 1]
    assert select(probabilities(0.24, 0.17, 0.11, 0.07), mass=0.5, floor=0.1) == [0, 1, 2]


def test_select_keeps_nothing_below_the_floor_and_at_most_top_k() -> None:
    assert select(probabilities(0.09, 0.08), mass=0.5, floor=0.1) == []
    assert select(probabilities(0.12, 0.11, 0.11, 0.11), mass=0.9, floor=0.1, top_k=2) == [0, 1]
