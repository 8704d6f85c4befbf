"""Ingest through the API: upload_urls -> PUT -> notify for 1,000 JPEGs of about 1 MB.

8 concurrent clients, each asking for 25 URLs at a time and notifying in batches of 5,
against `bitimage serve` on embedded defaults.
Baseline, same run: the same bytes written to files with their MD5, by a plain Python loop.
Target: at least 50% of the baseline's images/s. --quick: 40 images.
"""

from __future__ import annotations

import hashlib
import io
import queue
import random
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

from bench._common import account, start_server, stop_server

CLIENTS = 8
BATCH = 5  # images per notify (the API's limit)
URL_CHUNK = 25  # URLs asked for at once; the API allows 1000


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


SPENT = {"upload_urls": 0.0, "PUT": 0.0, "notify": 0.0}
LOCK = threading.Lock()


def timed(step: str, began: float) -> float:
    """Add the time since `began` to a step's total; return now."""
    now = time.perf_counter()
    with LOCK:
        SPENT[step] += now - began
    return now


def client_loop(
    base: str, headers: dict[str, str], work: queue.Queue[list[bytes]], errors: list[str]
) -> None:
    """Take batches until none is left: ask for URLs, PUT, notify."""
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        while True:
            try:
                chunk = work.get_nowait()
            except queue.Empty:
                return
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


def main() -> None:
    count = 40 if "--quick" in sys.argv else 1000
    bases = base_jpegs(20)
    files = [with_comment(bases[n % len(bases)], n) for n in range(count)]
    megabytes = sum(map(len, files)) / 1e6
    folder = Path(tempfile.mkdtemp())
    (folder / "plain").mkdir()
    base_seconds = baseline(files, folder / "plain")
    process, base = start_server(folder / "server")
    try:
        headers = account(base)
        work: queue.Queue[list[bytes]] = queue.Queue()
        for at in range(0, count, URL_CHUNK):
            work.put(files[at : at + URL_CHUNK])
        errors: list[str] = []
        threads = [
            threading.Thread(target=client_loop, args=(base, headers, work, errors))
            for _ in range(CLIENTS)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        api_seconds = time.perf_counter() - start
    finally:
        stop_server(process)
    if errors:
        raise SystemExit(f"{len(errors)} batches failed, first: {errors[0]}")
    print(f"{count} JPEGs, {megabytes:.0f} MB, mean {megabytes / count:.2f} MB")
    for label, seconds in (("baseline: write + MD5 loop", base_seconds), ("API", api_seconds)):
        print(f"{label:28s} {count / seconds:8.1f} images/s {megabytes / seconds:8.1f} MB/s")
    print(f"ratio API / baseline: {base_seconds / api_seconds:.1%} (target >= 50%)")
    total = sum(SPENT.values())
    print("client time by step: " + ", ".join(f"{k} {v / total:.0%}" for k, v in SPENT.items()))


if __name__ == "__main__":
    main()
