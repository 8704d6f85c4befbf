"""Near duplicates by dHash: the hash in four 16-bit bands, band neighbours, groups.

The analysis stores each image's 64-bit dHash (analysis/metadata.py) as four 16-bit bands, one
indexed column each. Two hashes within Hamming distance t differ in at most t // 4 bits in at
least one band (pigeonhole), so the candidates of an image are the rows with some band within
t // 4 bits of its own: a few hundred index probes, then the exact distance on each candidate.
Calibration (bench/bench_duplicates.py): resized and re-encoded copies are 0-1 bits apart,
brightness/contrast edits 0-6, a 3% crop 0-13; different photos 18 or more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np

BANDS = 4
BAND_BITS = 16
MAX_DISTANCE = 12  # t // 4 = 3 bits a band: 697 probes a band; more would be a scan
_CHUNK = 1024  # rows compared against the whole library at once: 1024 x n uint64


def bands_of(dhash: str) -> tuple[int, int, int, int]:
    """The four 16-bit bands of a 16-hex-digit dHash, most significant first."""
    if len(dhash) != 16:
        raise ValueError(f"a dHash has 16 hex digits, not {len(dhash)}")
    value = int(dhash, 16)
    return (value >> 48, (value >> 32) & 0xFFFF, (value >> 16) & 0xFFFF, value & 0xFFFF)


def joined(bands: Sequence[int]) -> int:
    """The 64-bit hash from its four bands."""
    value = 0
    for band in bands:
        value = (value << BAND_BITS) | band
    return value


def distance(a: int, b: int) -> int:
    """Hamming distance between two 64-bit hashes."""
    return (a ^ b).bit_count()


@cache
def _masks(radius: int) -> tuple[int, ...]:
    return tuple(m for m in range(1 << BAND_BITS) if m.bit_count() <= radius)


def band_neighbours(band: int, max_distance: int) -> list[int]:
    """Every band value a candidate within `max_distance` of the hash may have in this band."""
    return [band ^ mask for mask in _masks(max_distance // BANDS)]


def close_pairs(hashes: Sequence[int], max_distance: int) -> list[tuple[int, int]]:
    """Index pairs (i < j) of hashes at most `max_distance` bits apart (numpy, chunked)."""
    values = np.array(hashes, dtype=np.uint64)
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(values), _CHUNK):
        block = values[start : start + _CHUNK]
        # Against this block and the rows after it only: each pair is compared once.
        near = np.bitwise_count(block[:, None] ^ values[None, start:]) <= max_distance
        rows, cols = np.nonzero(near)
        rows += start
        cols += start
        keep = rows < cols
        pairs.extend(zip(rows[keep].tolist(), cols[keep].tolist(), strict=True))
    return pairs


def components(size: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The connected groups (two or more members) of `size` items joined by `pairs`."""
    parent = list(range(size))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in range(size):
        groups.setdefault(root(i), []).append(i)
    return [members for members in groups.values() if len(members) > 1]
