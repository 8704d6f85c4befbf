"""Everyday words for ImageNet classes: what people type when they search their photos.

WordNet's categories (data/imagenet_labels.json) say a lighthouse is a "tower" and a lakeshore a
"shore"; people search for "building", "lake", "sea". data/everyday_words.json adds such words,
per category (to every class that has it) and per class. A word's confidence is that of the best
kept class that gives it (classifier.py), never a sum.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

RESOURCE = "data/everyday_words.json"


@dataclass(frozen=True)
class Vocabulary:
    """Words added per category (to every class that has it) and per class name."""

    by_category: dict[str, tuple[str, ...]]
    by_class: dict[str, tuple[str, ...]]

    def words(self, name: str, categories: Sequence[str]) -> tuple[str, ...]:
        """The class's categories and everyday words, specific first, without its own name."""
        found = list(self.by_class.get(name, ())) + list(categories)
        # Words added by a category may be categories with words of their own: close over them.
        index = 0
        while index < len(found):
            found += [w for w in self.by_category.get(found[index], ()) if w not in found]
            index += 1
        return tuple(w for w in dict.fromkeys(found) if w != name)


@cache
def vocabulary() -> Vocabulary:
    """The vocabulary shipped with the package."""
    text = resources.files("bitimage.analysis").joinpath(RESOURCE).read_text()
    document = json.loads(text)
    return Vocabulary(
        by_category={k: tuple(v) for k, v in document["categories"].items()},
        by_class={k: tuple(v) for k, v in document["classes"].items()},
    )
