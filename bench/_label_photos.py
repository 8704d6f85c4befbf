"""The everyday-photo evaluation set of bench_labels.py: where each photo comes from, what it shows.

Every photo ships in a package under a free licence; none is stored in this repository:
- scikit-image's wheel (skimage.data, BSD-3-Clause): astronaut, camera, chelsea, coffee, rocket,
  stereo_motorcycle; lfw_subset (100 face and 100 non-face crops, 25x25) for the face detector;
- scikit-learn's wheel (sklearn/datasets/images, CC-BY 2.0 per its README): china.jpg, flower.jpg;
- matplotlib's wheel (mpl-data/sample_data): grace_hopper.jpg (public domain, US Navy);
- Debian packages (`apt-get install lomiri-wallpapers-16.04 lomiri-wallpapers-20.04
  mate-backgrounds`): photographs under CC-BY(-SA) 4.0 (lomiri) and GPL-2+ (mate), in
  /usr/share/backgrounds. Wallpapers that are drawings or patterns are left out.

`expected`: the words a person would type to find the photo (its subject and that subject's
everyday parent); `also`: subject words that are right too, not required (e.g. "tree" under a bird
on a trunk). Any other word of KIND_WORDS among a photo's labels counts as a wrong label.
`people`: whether a person's face shows (the face detector's ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass

# Words that name what a photo shows at the level people search by: a label among these that
# the photo's annotation does not list is a wrong label.
KIND_WORDS = frozenset(
    {
        "animal", "bird", "cat", "dog", "insect", "fish", "horse",
        "person", "people", "face",
        "plant", "flower", "tree", "leaf", "grass", "fruit", "vegetable", "food", "drink",
        "vehicle", "car", "motorcycle", "bicycle", "boat", "airplane", "train", "rocket",
        "building", "bridge", "mountain", "beach", "sea", "lake", "water", "sky", "sunset", "snow",
        "forest", "landscape", "musical instrument", "clock", "lamp",
    }
)  # fmt: skip


@dataclass(frozen=True)
class LabelPhoto:
    """One photo: its name, its source (see module docstring), what it shows."""

    name: str
    source: str  # "skimage:NAME", "sklearn:FILE", "matplotlib:FILE" or "debian:PATH"
    expected: tuple[str, ...]
    also: tuple[str, ...] = ()
    people: bool = False


_LOMIRI = "debian:/usr/share/backgrounds/"
_MATE = "debian:/usr/share/backgrounds/mate/nature/"

PHOTOS: tuple[LabelPhoto, ...] = (
    LabelPhoto("astronaut", "skimage:astronaut", ("person", "face"), people=True),
    LabelPhoto("cameraman", "skimage:camera", ("person",), ("face",), people=True),
    LabelPhoto("grace hopper", "matplotlib:grace_hopper.jpg", ("person", "face"), people=True),
    LabelPhoto("cat", "skimage:chelsea", ("cat", "animal")),
    LabelPhoto("coffee", "skimage:coffee", ("coffee", "drink"), ("food",)),
    LabelPhoto("rocket", "skimage:rocket", ("rocket",), ("vehicle",)),
    LabelPhoto("motorcycle", "skimage:stereo_motorcycle", ("motorcycle", "vehicle")),
    LabelPhoto("temple", "sklearn:china.jpg", ("building",), ("lake", "water", "tree")),
    LabelPhoto("flower", "sklearn:flower.jpg", ("flower", "plant")),
    LabelPhoto("paintbrushes", _LOMIRI + "Picture_1A_by_freespace.jpg", ("brush",)),
    LabelPhoto("drum", _LOMIRI + "Wine_by_Jakkub_Mede.jpg", ("drum", "musical instrument")),
    LabelPhoto("wall clock", _LOMIRI + "greentock_by_Peter_Nerlich.jpg", ("clock",)),
    LabelPhoto(
        "dandelions", _LOMIRI + "seeding_by_Clements_Engelhardt.jpg", ("flower", "plant"),
        ("grass",),
    ),
    LabelPhoto(
        "mountains", _LOMIRI + "aitzgorri_by_Aitzol_Berasategi.jpg", ("mountain", "landscape"),
        ("tree", "grass", "snow", "sky"),
    ),
    LabelPhoto("nuthatch", _LOMIRI + "Kleiber_by_Lukas_Baubkus.jpg", ("bird", "animal"), ("tree",)),
    LabelPhoto("tree branches", _LOMIRI + "Dragonfly_by_Bolly.jpg", ("tree", "plant"), ("sky",)),
    LabelPhoto("two dogs", _LOMIRI + "friends_by_Aitzol_Berasategi.jpg", ("dog", "animal")),
    LabelPhoto(
        "sunset", _LOMIRI + "sunset_by_Aitzol_Berasategi.jpg", ("sunset", "landscape"),
        ("sky", "mountain", "grass"),
    ),
    LabelPhoto("lamp", _LOMIRI + "free_by_Peter_Nerlich.jpg", ("lamp",), ("bird",)),
    LabelPhoto(
        "peaks", _LOMIRI + "picosdeeuropa_by_Aitzol_Berasategi.jpg", ("mountain", "landscape"),
        ("snow", "sky", "grass"),
    ),
    LabelPhoto(
        "fig in a bowl", _LOMIRI + "Picture_0B_by_freespace.jpg", ("fruit", "food"), ("plant",)
    ),
    LabelPhoto(
        "forest stream", _LOMIRI + "life_by_Aitzol_Berasategi.jpg", ("forest", "water"),
        ("tree", "landscape", "mountain"),
    ),
    LabelPhoto(
        "bridge", _LOMIRI + "Bridge_by_Sander_Klootwijk.jpg", ("bridge",),
        ("sea", "beach", "water", "sky"),
    ),
    LabelPhoto("marigold", _MATE + "Garden.jpg", ("flower", "plant")),
    LabelPhoto(
        "dune grass", _MATE + "Dune.jpg", ("grass", "plant"), ("sea", "beach", "water", "sky")
    ),
    LabelPhoto("water drop", _MATE + "Aqua.jpg", ("water",)),
    LabelPhoto("dandelion seed", _MATE + "TwoWings.jpg", ("plant",), ("flower",)),
    LabelPhoto("storm", _MATE + "Storm.jpg", ("sky",), ("landscape",)),
    LabelPhoto("meadow", _MATE + "GreenMeadow.jpg", ("grass", "plant")),
    LabelPhoto("leaf with drops", _MATE + "RainDrops.jpg", ("leaf", "plant"), ("water",)),
    LabelPhoto("leaf", _MATE + "Blinds.jpg", ("leaf", "plant")),
    LabelPhoto("red flower", _MATE + "FreshFlower.jpg", ("flower", "plant")),
    LabelPhoto(
        "ladybird", _MATE + "LadyBird.jpg", ("ladybug", "insect"), ("animal", "flower", "plant")
    ),
    LabelPhoto("yellow flower", _MATE + "YellowFlower.jpg", ("flower", "plant")),
)  # fmt: skip
