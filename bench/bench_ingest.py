"""Ingest through the API: upload_urls -> PUT -> notify for 1,000 JPEGs of about 1 MB.

8 concurrent client processes, each asking for 25 URLs at a time and notifying in batches of 5,
against `bitimage serve` on embedded defaults.
Baseline, same run: the same bytes written to files with their MD5, by a plain Python loop.
Target: at least 50% of the baseline's images/s. --quick: 40 images.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import random
import struct
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from bench._common import account, start_server, stop_server

CLIENTS = 8
BATCH = 5  # images per notify (the API's limit)
URL_CHUNK = 25  # URLs asked for at once; the API allows 1000
PROCESSES = "2"  # server processes: one per core of these machines


def base_jpegs(count: int) -> list[bytes]:
    """Distinct noise JPEGs of about 1 MB."""
    rng = random.Random(1)
    out = []
    for _ in range(count):
        image = Image.frombytes("RGB", (1000, 1000), rng.randbytes(1000 * 1000 * 3))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=92)
        out.append(buffer.getvalue())
    return out


def with_comment(jpeg: bytes, n: int) -> bytes:
    """The JPEG with a COM segment after SOI, so every file has its own MD5."""
    text = f"bench image {n}".encode()
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def baseline(files: list[bytes], folder: Path) -> float:
    """Seconds to write every file with its MD5 in one loop."""
    start = time.perf_counter()
    for n, data in enumerate(files):
        digest = hashlib.md5(usedforsecurity=False)
        with (folder / f"{n}.jpg").open("wb") as handle:
            for at in range(0, len(data), 1 << 20):
                chunk = data[at : at + (1 << 20)]
                digest.update(chunk)
                handle.write(chunk)
        digest.hexdigest()
    return time.perf_counter() - start


FILES: list[bytes] = []  # set before the client processes fork, so they share it


def client_process(job: tuple[str, dict[str, str], int]) -> tuple[list[str], dict[str, float]]:
    """One client: its share of the files in chunks of URL_CHUNK: URLs, PUTs, notifies."""
    base, headers, index = job
    errors: list[str] = []
    spent = {"upload_urls": 0.0, "PUT": 0.0, "notify": 0.0}

    def timed(step: str, began: float) -> float:
        now = time.perf_counter()
        spent[step] += now - began
        return now

    stride = CLIENTS * URL_CHUNK
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for first in range(index * URL_CHUNK, len(FILES), stride):
            chunk = FILES[first : first + URL_CHUNK]
            began = time.perf_counter()
            urls = http.get(f"/api/v1/images/upload_urls?image_count={len(chunk)}").json()
            began = timed("upload_urls", began)
            entries = urls["image_upload_urls"]
            for at in range(0, len(chunk), BATCH):
                batch = list(zip(entries[at : at + BATCH], chunk[at : at + BATCH], strict=True))
                for entry, data in batch:
                    http.put(entry["url"], content=data).raise_for_status()
                began = timed("PUT", began)
                body = {
                    "images": [
                        {"id": e["image_id"], "name": f"bench {e['image_id'][:8]}",
                         "hash": hashlib.md5(d, usedforsecurity=False).hexdigest()}
                        for e, d in batch
                    ]
                }  # fmt: skip
                answer = http.post("/api/v1/images", json=body)
                began = timed("notify", began)
                if answer.status_code != 201:
                    errors.append(answer.text)
    return errors, spent


def main() -> None:
    count = 40 if "--quick" in sys.argv else 1000
    bases = base_jpegs(20)
    files = [with_comment(bases[n % len(bases)], n) for n in range(count)]
    megabytes = sum(map(len, files)) / 1e6
    folder = Path(tempfile.mkdtemp())
    (folder / "plain").mkdir()
    base_seconds = baseline(files, folder / "plain")
    process, base = start_server(folder / "server", BITIMAGE_PROCESSES=PROCESSES)
    try:
        headers = account(base)
        FILES[:] = files
        # Client processes, not threads: one process's GIL would make the load generator
        # the bottleneck it is meant to measure past.
        with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
            start = time.perf_counter()
            results = pool.map(client_process, [(base, headers, n) for n in range(CLIENTS)])
            api_seconds = time.perf_counter() - start
        errors = [error for found, _ in results for error in found]
        spent = {step: sum(s[step] for _, s in results) for step in results[0][1]}
    finally:
        stop_server(process)
    if errors:
        raise SystemExit(f"{len(errors)} batches failed, first: {errors[0]}")
    print(f"{count} JPEGs, {megabytes:.0f} MB, mean {megabytes / count:.2f} MB")
    for label, seconds in (("baseline: write + MD5 loop", base_seconds), ("API", api_seconds)):
        print(f"{label:28s} {count / seconds:8.1f} images/s {megabytes / seconds:8.1f} MB/s")
    print(f"ratio API / baseline: {base_seconds / api_seconds:.1%} (target >= 50%)")
    total = sum(spent.values())
    print("client time by step: " + ", ".join(f"{k} {v / total:.0%}" for k, v in spent.items()))


if __name__ == "__main__":
    main()
