"""S3 URL signing: URLs/s per core of SigV4Presigner (and S3Store.presign_get) vs boto3.

Baseline, same run: boto3's client.generate_presigned_url("get_object", ...) on a SigV4 client
configured as s3_store_from_url configures it for AWS (virtual-hosted, regional). Both produce
the same URL byte for byte (checked first). Target: the presigner is >= 10x cheaper.
Dummy credentials, no server, no network.
Run: python bench/bench_s3_signing.py [--quick]
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from bitimage.storage.keys import permanent_key
from bitimage.storage.s3 import S3Store
from bitimage.storage.sigv4 import SigV4Presigner

try:
    from bench._common import best_rate, percentile, quick, table
except ModuleNotFoundError:  # run as `python bench/bench_s3_signing.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        best_rate,
        percentile,
        quick,
        table,
    )

ACCESS, SECRET, REGION, BUCKET = (
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
    "eu-west-1",
    "bitimage-images",
)
TTL = 3600


def boto_client() -> Any:
    session = boto3.session.Session(
        aws_access_key_id=ACCESS, aws_secret_access_key=SECRET, region_name=REGION
    )
    config = Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
    return session.client("s3", config=config)


def same_url(client: Any, signer: SigV4Presigner, key: str) -> bool:
    """True when both sign `key` to the same URL (retried if a second ticks in between)."""
    for _ in range(5):
        theirs: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=TTL
        )
        stamp = theirs.split("X-Amz-Date=")[1][:16]
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if signer.presign("GET", BUCKET, key, TTL, now=when) == theirs:
            return True
    return False


def main() -> None:
    fast_calls, slow_calls, rounds, pages = (
        (20_000, 1_000, 2, 50) if quick() else (200_000, 10_000, 5, 300)
    )
    client = boto_client()
    signer = SigV4Presigner(ACCESS, SECRET, None, REGION, None, "virtual")
    store = S3Store(client, signer, BUCKET)
    key = permanent_key(uuid.uuid4(), uuid.uuid4())
    if not same_url(client, signer, key):
        raise SystemExit("SigV4Presigner and boto3 disagree: the figures would mean nothing")

    def boto() -> str:
        url: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=TTL
        )
        return url

    baseline = best_rate(boto, slow_calls, rounds)
    presigner = best_rate(lambda: signer.presign("GET", BUCKET, key, TTL), fast_calls, rounds)
    via_store = best_rate(lambda: store.presign_get(key, TTL), fast_calls, rounds)

    keys = [permanent_key(uuid.uuid4(), uuid.uuid4()) for _ in range(100)]
    boto_ms, store_ms = [], []
    for _ in range(pages):
        start = time.perf_counter()
        for k in keys:
            client.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": k}, ExpiresIn=TTL
            )
        boto_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        for k in keys:
            store.presign_get(k, TTL)
        store_ms.append((time.perf_counter() - start) * 1000)
    boto_ms.sort()
    store_ms.sort()

    print(f"S3 URL signing, one thread (best of {rounds} rounds; URLs equal to boto3's: yes)")
    print(
        table(
            [
                (
                    "boto3 generate_presigned_url (baseline)",
                    f"{baseline:,.0f}",
                    f"{1e6 / baseline:.1f}",
                    "1.0",
                ),
                (
                    "SigV4Presigner.presign",
                    f"{presigner:,.0f}",
                    f"{1e6 / presigner:.1f}",
                    f"{presigner / baseline:.1f}",
                ),
                (
                    "S3Store.presign_get",
                    f"{via_store:,.0f}",
                    f"{1e6 / via_store:.1f}",
                    f"{via_store / baseline:.1f}",
                ),
            ],
            ("what", "URLs/s per core", "us/URL", "speed-up"),
        )
    )
    print()
    print(f"one summary page = 100 signed view URLs ({pages:,} pages)")
    rows = []
    for label, values in (
        ("boto3 x100 (baseline)", boto_ms),
        ("S3Store.presign_get x100", store_ms),
    ):
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        ratio = percentile(boto_ms, 0.5) / p50
        rows.append((label, f"{p50:.3f}", f"{p99:.3f}", f"{ratio:.1f}"))
    print(table(rows, ("what", "p50 ms", "p99 ms", "p50 speed-up")))
    speedup = via_store / baseline
    verdict = "met" if speedup >= 10 else "MISSED"
    print(f"target: S3Store.presign_get >= 10x boto3's URLs/s -> {verdict} ({speedup:.1f}x)")


if __name__ == "__main__":
    main()
