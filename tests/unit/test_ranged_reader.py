"""RangedReader reads exactly the bytes a file would, with few range requests."""

from __future__ import annotations

import io
import random

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bitimage.imaging import inspect_image
from bitimage.storage.ranged import RangedReader


class BytesSource:
    """A hand-written fake store: ranges of one object held in memory, counted."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.requests: list[tuple[int, int]] = []

    def read_range(self, key: str, start: int, length: int) -> bytes:
        self.requests.append((start, length))
        return self.data[start : start + length]


operations = st.lists(
    st.tuples(st.sampled_from(["read", "seek", "seek_end"]), st.integers(0, 300_000)),
    max_size=30,
)


@given(data=st.binary(min_size=0, max_size=200_000), steps=operations)
def test_reads_and_seeks_match_a_file(data: bytes, steps: list[tuple[str, int]]) -> None:
    reference = io.BytesIO(data)
    reader = RangedReader(BytesSource(data), "k", len(data))
    for operation, number in steps:
        if operation == "read":
            assert reader.read(number) == reference.read(number)
        elif operation == "seek":
            assert reader.seek(number) == reference.seek(number)
        else:
            offset = -min(number, len(data))
            assert reader.seek(offset, io.SEEK_END) == reference.seek(offset, io.SEEK_END)
        assert reader.tell() == reference.tell()
    assert reader.read() == reference.read()


def test_checking_a_jpeg_reads_its_head_and_tail_only() -> None:
    noise = Image.frombytes("RGB", (1200, 900), random.Random(3).randbytes(1200 * 900 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=90)
    source = BytesSource(out.getvalue())
    assert len(source.data) > 900_000
    # Buffered as the confirm path reads it (images/uploads.py).
    with io.BufferedReader(RangedReader(source, "k", len(source.data)), 64 * 1024) as stream:
        info = inspect_image(stream, 50_000_000)
    assert (info.width, info.height) == (1200, 900)
    assert len(source.requests) <= 3
    assert sum(length for _, length in source.requests) <= 3 * 64 * 1024


def test_a_full_read_takes_few_requests() -> None:
    data = bytes(range(256)) * 80_000  # 20 MB
    source = BytesSource(data)
    assert RangedReader(source, "k", len(data)).read() == data
    assert len(source.requests) <= 10
