"""The floor under bench_ingest: a bare ASGI app that only hashes and writes PUT bodies.

Same machine, same run, same bytes and page-cache preparation as bench_ingest.py: 1,000
JPEGs of about 1 MB PUT by 8 concurrent clients (http.client, keep-alive) to uvicorn serving
bench/_bare_upload.py, with 1 and with 2 uvicorn processes. Baseline, same run: the plain
write + MD5 loop of bench_ingest. No auth, no upload URLs, no notify, no database: what this
reaches is what any Python upload server reaches here, so the distance between this and
bench_ingest's API row is the cost of the flow itself. --quick: 40 images.
Run: python bench/bench_ingest_floor.py [--quick]
"""

from __future__ import annotations

import http.client
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

try:
    from bench._common import option, quick, start_bare_upload, stop_server, table
    from bench.bench_ingest import base_jpegs, baseline, cpu_seconds, recycle_pages, with_comment
except ModuleNotFoundError:  # run as `python bench/bench_ingest_floor.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        option,
        quick,
        start_bare_upload,
        stop_server,
        table,
    )
    from bench_ingest import (  # type: ignore[import-not-found,no-redef]
        base_jpegs,
        baseline,
        cpu_seconds,
        recycle_pages,
        with_comment,
    )

CLIENTS = 8


def put_all(files: list[bytes], port: int) -> None:
    """PUT every file, CLIENTS connections at once, each taking every CLIENTS-th file."""

    def client(first: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for data in files[first::CLIENTS]:
            connection.request("PUT", "/upload", body=data)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise SystemExit(f"PUT answered {answer.status}")
        connection.close()

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))


def main() -> None:
    count = option("--images", 40 if quick() else 1000)
    bases = base_jpegs(min(50, count))
    files = [with_comment(bases[n % len(bases)], n) for n in range(count)]
    megabytes = sum(map(len, files)) / 1e6
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-floor-") as tmp:
        folder = Path(tmp)
        (folder / "plain").mkdir()
        recycle_pages(1.5 * megabytes, folder)
        seconds = [baseline(files, folder / "plain")]
        for processes in (1, 2):
            process, port = start_bare_upload(folder / f"bare{processes}", processes=processes)
            try:
                recycle_pages(1.5 * megabytes, folder)
                cpu, start = cpu_seconds(process.pid), time.perf_counter()
                put_all(files, port)
                elapsed = time.perf_counter() - start
                cpu = cpu_seconds(process.pid) - cpu
            finally:
                stop_server(process)
            rows.append((processes, elapsed, cpu))
        recycle_pages(1.5 * megabytes, folder)
        seconds.append(baseline(files, folder / "plain"))
    base = min(seconds)
    lines = [
        ("baseline: write + hashlib.md5 loop", f"{base:.2f}", f"{count / base:.1f}", "100%", "")
    ]
    for processes, elapsed, cpu in rows:
        lines.append(
            (
                f"bare ASGI PUT-only, {processes} process(es)",
                f"{elapsed:.2f}",
                f"{count / elapsed:.1f}",
                f"{base / elapsed:.1%}",
                f"{cpu / count * 1000:.2f}",
            )
        )
    print(f"{count} JPEGs, {megabytes:.0f} MB, {CLIENTS} http.client threads, loopback")
    print(table(lines, ("what", "seconds", "images/s", "ratio", "server CPU ms/image")))


if __name__ == "__main__":
    main()
