"""Near-duplicate arithmetic: dHash bands, band neighbours (the pigeonhole bound), groups."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest

from bitimage.images.duplicate_repository import HashRow
from bitimage.images.duplicates import library_groups
from bitimage.images.perceptual import (
    MAX_DISTANCE,
    band_neighbours,
    bands_of,
    close_pairs,
    components,
    distance,
    joined,
)


def test_bands_split_and_join() -> None:
    assert bands_of("0123456789abcdef") == (0x0123, 0x4567, 0x89AB, 0xCDEF)
    assert joined(bands_of("ffff0000ffff0001")) == 0xFFFF0000FFFF0001
    with pytest.raises(ValueError, match="16 hex digits"):
        bands_of("abc")


@pytest.mark.parametrize("reach", [0, 3, 4, 7, 10, MAX_DISTANCE])
def test_every_hash_within_reach_shares_a_band_neighbour(reach: int) -> None:
    rng = random.Random(reach)
    for _ in range(300):
        a = rng.getrandbits(64)
        flips = rng.sample(range(64), rng.randint(0, reach))
        b = a
        for bit in flips:
            b ^= 1 << bit
        assert distance(a, b) == len(flips)
        ours = bands_of(f"{a:016x}")
        theirs = bands_of(f"{b:016x}")
        assert any(theirs[n] in band_neighbours(ours[n], reach) for n in range(4))


def test_band_neighbours_count() -> None:
    assert band_neighbours(5, 3) == [5]  # reach 3: every band exact (pigeonhole, 4 bands)
    assert len(band_neighbours(5, 10)) == 1 + 16 + 120
    assert len(set(band_neighbours(0xBEEF, 12))) == 1 + 16 + 120 + 560


def test_close_pairs_matches_a_plain_scan() -> None:
    rng = random.Random(7)
    base = [rng.getrandbits(64) for _ in range(40)]
    hashes = base + [h ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)) for h in base[:15]]
    hashes += [2**64 - 1, 2**64 - 2]  # the top bit set: unsigned all the way
    want = sorted(
        (i, j)
        for i in range(len(hashes))
        for j in range(i + 1, len(hashes))
        if distance(hashes[i], hashes[j]) <= 6
    )
    assert sorted(close_pairs(hashes, 6)) == want
    assert len(want) >= 16


def test_components_join_chains() -> None:
    assert components(6, [(0, 1), (1, 2), (4, 5), (3, 3)]) == [[0, 1, 2], [4, 5]]
    assert components(3, []) == []


def test_library_groups_by_md5_and_by_hash() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def row(md5: str, dhash: str | None) -> HashRow:
        return HashRow(uuid.uuid4(), md5, None if dhash is None else bands_of(dhash), now)

    rows = [
        row("a" * 32, "00000000000000ff"),
        row("b" * 32, "f0f0f0f0f0f0f0f0"),
        row("a" * 32, None),  # not analysed yet: joined by its bytes
        row("c" * 32, "00000000000001ff"),  # one bit from the first
        row("d" * 32, "0f0f0f0f0f0f0f0f"),  # far from everything
        row("e" * 32, "f0f0f0f0f0f0f0f1"),
    ]
    assert library_groups(rows, 10) == [[0, 2, 3], [1, 5]]
    assert library_groups(rows, 0) == [[0, 2]]
