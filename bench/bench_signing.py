"""Signing view URLs: URLs/s per core of the local store, and the cost of a 100-image summary.

Baseline, same run: a bare HMAC-SHA256 hexdigest of the same message (the floor of any signer).
Target: a summary of 100 images spends under 1 ms signing.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bitimage.storage.keys import permanent_key
from bitimage.storage.local import LocalSignedStore
from bitimage.storage.signing import UrlSigner


def rate(fn: object, n: int) -> float:
    """Calls per second of fn() over n calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return n / (time.perf_counter() - start)


def main() -> None:
    n = 20_000 if "--quick" in sys.argv else 200_000
    store = LocalSignedStore(
        Path(tempfile.mkdtemp()), UrlSigner(b"k" * 32), "http://127.0.0.1:8000"
    )
    key = permanent_key(uuid.uuid4(), uuid.uuid4())
    message = f"GET\n{key}\n1900000000".encode()
    secret = b"k" * 32
    baseline = rate(lambda: hmac.new(secret, message, hashlib.sha256).hexdigest(), n)
    signer = rate(lambda: store.presign_get(key, 3600), n)
    keys = [permanent_key(uuid.uuid4(), uuid.uuid4()) for _ in range(100)]
    runs = []
    for _ in range(200):
        start = time.perf_counter()
        for k in keys:
            store.presign_get(k, 3600)
        runs.append((time.perf_counter() - start) * 1000)
    runs.sort()
    print(f"bare HMAC-SHA256 (baseline)   {baseline:12,.0f} /s")
    print(f"LocalSignedStore.presign_get  {signer:12,.0f} /s   ratio {signer / baseline:.2f}")
    print(
        f"summary of 100 view URLs  p50 {runs[100]:.3f} ms  p99 {runs[198]:.3f} ms  (target < 1 ms)"
    )


if __name__ == "__main__":
    main()
