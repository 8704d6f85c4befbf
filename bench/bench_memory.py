"""Server memory while 20 clients PUT 20 MiB files at once (the local store streams to disk).

Samples the server process's RSS (/proc/PID/status VmRSS) every 50 ms during the uploads.
Each client streams its body from a generator in 1 MiB chunks, so the client holds little.
20 MiB is exactly the size limit (BITIMAGE_MAX_IMAGE_BYTES), which must be accepted.
Baseline, same run: the server's RSS when idle, after start and sign-up.
Target: peak under 300 MB. --quick: 3 clients of 5 MiB. Options: --clients N, --mib N.
Run: python bench/bench_memory.py [--quick]
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

try:
    from bench._common import MIB, account, option, quick, rss_mb, start_server, stop_server, table
except ModuleNotFoundError:  # run as `python bench/bench_memory.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        MIB,
        account,
        option,
        quick,
        rss_mb,
        start_server,
        stop_server,
        table,
    )

SAMPLE_SECONDS = 0.05


def body(size: int, seed: int) -> Iterator[bytes]:
    """`size` bytes in chunks of at most 1 MiB, produced as they are sent."""
    chunk = bytes([seed % 256]) * MIB
    sent = 0
    while sent < size:
        part = chunk[: min(MIB, size - sent)]
        sent += len(part)
        yield part


def main() -> None:
    clients = option("--clients", 3 if quick() else 20)
    size = option("--mib", 5 if quick() else 20) * MIB
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        process, base = start_server(Path(folder) / "server")
        try:
            headers = account(base)
            urls = httpx.get(
                f"{base}/api/v1/images/upload_urls",
                params={"image_count": clients},
                headers=headers,
                timeout=60,
            ).json()["image_upload_urls"]
            time.sleep(0.5)
            idle = rss_mb(process.pid)
            samples: list[float] = []
            done = threading.Event()

            def sample() -> None:
                # Bounded: stops when the uploads end, or after 10 minutes at most.
                for _ in range(int(600 / SAMPLE_SECONDS)):
                    if done.is_set():
                        return
                    samples.append(rss_mb(process.pid))
                    time.sleep(SAMPLE_SECONDS)

            barrier = threading.Barrier(clients)

            def put(url: str, seed: int) -> None:
                with httpx.Client(timeout=300) as http:
                    barrier.wait(timeout=60)
                    answer = http.put(
                        url,
                        content=body(size, seed),
                        headers={"Content-Length": str(size)},
                    )
                    if answer.status_code >= 300:
                        failures.append(f"{answer.status_code}: {answer.text[:200]}")

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.perf_counter()
            threads = [
                threading.Thread(target=put, args=(entry["url"], n)) for n, entry in enumerate(urls)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            after = rss_mb(process.pid)
        finally:
            stop_server(process)
    peak = max(samples, default=0.0)
    total = clients * size / MIB
    print(
        f"{clients} clients x {size // MIB} MiB PUT at once ({total:.0f} MiB) in {seconds:.1f} s, "
        f"{len(samples)} RSS samples every {SAMPLE_SECONDS * 1000:.0f} ms"
    )
    rows = [
        ("idle (baseline)", f"{idle:.1f}", "1.00"),
        ("peak during uploads", f"{peak:.1f}", f"{peak / idle:.2f}"),
        ("after uploads", f"{after:.1f}", f"{after / idle:.2f}"),
    ]
    print(table(rows, ("server RSS", "MB", "ratio to idle")))
    print(f"peak growth over idle: {peak - idle:.1f} MB for {total:.0f} MiB uploaded at once")
    print(f"target: peak < 300 MB -> {'met' if peak < 300 else 'MISSED'}")
    if failures:
        print(f"{len(failures)} PUT(s) FAILED, first: {failures[0]}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
