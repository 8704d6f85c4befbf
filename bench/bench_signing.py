"""Signing view URLs: URLs/s per core of LocalSignedStore.presign_get, and a 100-image summary.

Baseline, same run: a bare hmac.new(...).hexdigest() of the same message (the floor of any
signer). Target: signing the URLs of one 100-image summary page takes under 1 ms: since
renditions, three per image (view, thumbnail, preview), which presign_gets signs with one
HMAC per image; signing the 300 URLs one by one is printed beside it.
Run: python bench/bench_signing.py [--quick]
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
import time
import uuid
from pathlib import Path

from bitimage.storage.keys import permanent_key, preview_key, thumbnail_key
from bitimage.storage.local import LocalSignedStore
from bitimage.storage.signing import UrlSigner

try:
    from bench._common import best_rate, percentile, quick, table
except ModuleNotFoundError:  # run as `python bench/bench_signing.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        best_rate,
        percentile,
        quick,
        table,
    )

SECRET = b"x" * 32


def main() -> None:
    calls, rounds, pages = (20_000, 2, 200) if quick() else (100_000, 5, 2_000)
    with tempfile.TemporaryDirectory(prefix="bench-signing-") as folder:
        store = LocalSignedStore(Path(folder), UrlSigner(SECRET), "http://127.0.0.1:8000")
        key = permanent_key(uuid.uuid4(), uuid.uuid4())
        message = f"GET\n{key}\n{int(time.time()) + 3600}".encode()

        def bare() -> str:
            return hmac.new(SECRET, message, hashlib.sha256).hexdigest()

        baseline = best_rate(bare, calls, rounds)
        signer = best_rate(lambda: store.presign_get(key, 3600), calls, rounds)

        keys = [permanent_key(uuid.uuid4(), uuid.uuid4()) for _ in range(100)]
        families = [[k, thumbnail_key(k), preview_key(k)] for k in keys]
        page_ms, bare_ms, three_ms, each_ms = [], [], [], []
        for _ in range(pages):
            start = time.perf_counter()
            for k in keys:
                store.presign_get(k, 3600)
            page_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            for _ in keys:
                bare()
            bare_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            for family in families:
                store.presign_gets(family, 3600)
            three_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            for family in families:
                for k in family:
                    store.presign_get(k, 3600)
            each_ms.append((time.perf_counter() - start) * 1000)
    for values in (page_ms, bare_ms, three_ms, each_ms):
        values.sort()
    print(f"URL signing, one thread ({calls:,} calls x {rounds} rounds, best round)")
    print(
        table(
            [
                ("bare hmac.new().hexdigest() (baseline)", f"{baseline:,.0f}", "1.00"),
                ("LocalSignedStore.presign_get", f"{signer:,.0f}", f"{signer / baseline:.2f}"),
            ],
            ("what", "URLs/s per core", "ratio"),
        )
    )
    print()
    print(f"one summary page = 100 images ({pages:,} pages)")
    rows = []
    for label, values in (
        ("bare HMAC x100 (baseline)", bare_ms),
        ("view URLs only: presign_get x100", page_ms),
        ("view+thumbnail+preview: presign_gets x100", three_ms),
        ("the same 300 URLs signed one by one", each_ms),
    ):
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        ratio = p50 / percentile(bare_ms, 0.5)
        rows.append((label, f"{p50:.3f}", f"{p99:.3f}", f"{ratio:.2f}"))
    print(table(rows, ("what", "p50 ms", "p99 ms", "p50 ratio")))
    p50, p99 = percentile(three_ms, 0.5), percentile(three_ms, 0.99)
    print(
        "target: a 100-image summary (300 URLs) signs in under 1 ms -> "
        f"p50 {'met' if p50 < 1.0 else 'MISSED'}, p99 {'met' if p99 < 1.0 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
