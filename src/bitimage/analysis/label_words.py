"""What a `content_label` query means: the word the default analysers would have stored.

Label search resolves its term against the words the analysers can give (every classifier
class with its categories and everyday words, the colour names, the scene words, "face",
"person" and "people"): the word itself, a synonym's word ("kitten" is a "cat"), or, for a
typo, the nearest word (one edit for words up to five letters, two beyond; "cta" is "cat").
A resolved term matches that label exactly and nothing else, so "face" never finds "palace".
A term no word explains (a label of an opt-in analyser, say) is matched as before.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable
from importlib import resources

from bitimage.analysis import scenes
from bitimage.analysis.colours import COLOUR_NAMES
from bitimage.analysis.vocabulary import RESOURCE, vocabulary

# The face analyser's labels, named here so the API process does not load ONNX Runtime.
FACE_WORDS = ("face", "person", "people")
SHORT = 5  # words up to this long are corrected by one edit, longer ones by two
MIN_TYPO = 3  # shorter terms are never corrected: too many words are one edit away


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _deletes(word: str, depth: int) -> set[str]:
    """The word with up to `depth` characters deleted (itself included)."""
    found, edge = {word}, {word}
    for _ in range(depth):
        edge = {w[:i] + w[i + 1 :] for w in edge for i in range(len(w))}
        found |= edge
    return found


def distance(a: str, b: str) -> int:
    """Edits from a to b: insertions, deletions, substitutions, adjacent transpositions."""
    rows = [list(range(len(b) + 1))]
    for i, x in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _allowed(term: str) -> int:
    return 1 if len(term) <= SHORT else 2


class LabelWords:
    """Resolves a content_label query to one label word (search.ports.LabelWords)."""

    def __init__(self, words: Iterable[str], synonyms: dict[str, str]) -> None:
        self.words = frozenset(_normal(word) for word in words)
        self.synonyms = {_normal(k): _normal(v) for k, v in synonyms.items()}
        unknown = set(self.synonyms.values()) - self.words
        if unknown:
            raise ValueError(f"synonyms of words no analyser gives: {sorted(unknown)}")
        shadowed = set(self.synonyms) & self.words
        if shadowed:  # the word itself would always win: a synonym that never applies
            raise ValueError(f"synonyms that are words themselves: {sorted(shadowed)}")
        # A delete index (SymSpell): a typo within two edits shares a deletion with its word.
        by_delete: dict[str, set[str]] = defaultdict(set)
        for word in self.words:
            for deleted in _deletes(word, 2):
                by_delete[deleted].add(word)
        # Kept as tuples: the collector stops tracking a tuple of strings, while ~77,000 sets
        # would be walked by each of its full passes for good (10-20 ms each, in a request).
        self._by_delete = {deleted: tuple(words) for deleted, words in by_delete.items()}

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one instance per process, kept for good)
    def resolve(self, term: str) -> str | None:
        """The label word `term` means, or None when no word explains it."""
        term = _normal(term)
        if term in self.words:
            return term
        if term in self.synonyms:
            return self.synonyms[term]
        if len(term) < MIN_TYPO:
            return None
        allowed = _allowed(term)
        candidates: set[str] = set()
        for deleted in _deletes(term, allowed):
            candidates.update(self._by_delete.get(deleted, ()))
        scored = [(distance(term, word), word) for word in candidates]
        near = [(d, word) for d, word in scored if d <= min(allowed, _allowed(word))]
        if not near:
            return None
        # The closest; among equals the word sharing the longest start, then alphabetical.
        return min(near, key=lambda dw: (dw[0], -_shared_start(term, dw[1]), dw[1]))[1]


def _shared_start(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def default_words() -> set[str]:
    """Every label the default analysers can store."""
    text = resources.files("bitimage.analysis").joinpath("data/imagenet_labels.json").read_text()
    everyday = vocabulary()
    words: set[str] = set()
    for entry in json.loads(text)["classes"]:
        words.add(entry["name"])
        words.update(everyday.words(entry["name"], entry["categories"]))
    words.update(COLOUR_NAMES)
    words.update(FACE_WORDS)
    for scene, parents in scenes.PARENTS.items():
        words.update((scene, *parents))
    return words


@functools.cache
def label_words() -> LabelWords:
    """The words of the default analysers, with the synonyms shipped in the vocabulary file."""
    document = json.loads(resources.files("bitimage.analysis").joinpath(RESOURCE).read_text())
    return LabelWords(default_words(), document.get("synonyms", {}))


class DefaultLabelWords:
    """The default analysers' words, read on the first label query (not at start-up)."""

    def resolve(self, term: str) -> str | None:
        """The label word `term` means, or None when no word explains it."""
        return label_words().resolve(term)
