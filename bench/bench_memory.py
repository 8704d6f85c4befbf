"""Server memory while 20 clients PUT 20 MiB files at once (the local store streams to disk).

Samples the server's RSS every 50 ms. Baseline, same run: its RSS when idle after start.
Target: peak under 300 MB. --quick: 3 clients, 5 MiB.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench._common import account, start_server, stop_server

MIB = 1024 * 1024


def rss_mb(pid: int) -> float:
    """Resident set size of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def body(size: int, seed: int) -> Iterator[bytes]:
    """`size` bytes in 1 MiB chunks, generated as they are sent (the client holds little)."""
    chunk = bytes([seed % 256]) * MIB
    for _ in range(size // MIB):
        yield chunk


def main() -> None:
    clients, size = (3, 5 * MIB) if "--quick" in sys.argv else (20, 20 * MIB)
    process, base = start_server(Path(tempfile.mkdtemp()))
    try:
        headers = account(base)
        urls = httpx.get(
            f"{base}/api/v1/images/upload_urls?image_count={clients}", headers=headers
        ).json()
        idle = rss_mb(process.pid)
        samples: list[float] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append(rss_mb(process.pid))
                time.sleep(0.05)

        def put(url: str, seed: int) -> None:
            with httpx.Client(timeout=120) as http:
                http.put(url, content=body(size, seed)).raise_for_status()

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        threads = [
            threading.Thread(target=put, args=(entry["url"], n))
            for n, entry in enumerate(urls["image_upload_urls"])
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    finally:
        stop_server(process)
    peak = max(samples)
    print(f"{clients} clients x {size // MIB} MiB PUT at once in {seconds:.1f} s")
    print(f"server RSS idle (baseline) {idle:6.1f} MB")
    print(
        f"server RSS peak            {peak:6.1f} MB   peak/idle {peak / idle:.2f}  (target < 300)"
    )


if __name__ == "__main__":
    main()
