"""Ingest through the API: upload_urls -> PUT -> notify for 1,000 JPEGs of about 1 MB.

8 concurrent clients (threads, each with its own httpx.Client), each asking for 25 upload URLs
at a time and notifying in batches of 5, against `bitimage serve` on a loopback port, run with
BITIMAGE_RUN_WORKER=false: analysis is measured on its own (bench_classifier, bench_analysers).
Baseline, same run: the same bytes written to files with their MD5 (hashlib) by a plain loop,
timed before and after the API run; the faster of the two counts. The first baseline and the
API run each start right after `recycle_pages`, so both write into page-cache pages of the same
kind (on this VM, pages not touched lately cost ~2.5 ms per MB more to write).
Target: the API reaches at least 50% of the baseline's images/s. --quick: 40 images.
Options: --images N, --clients N, --server-processes N (default 1, `serve --processes`),
--client-processes (forked client processes instead of threads, to take the client's GIL out),
--stdlib-client (http.client instead of httpx: half the client's CPU, to show it is not the limit).
Run: python bench/bench_ingest.py [--quick]
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json as _json
import multiprocessing
import os
import random
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image

try:
    from bench._common import account, option, quick, start_server, stop_server, table
except ModuleNotFoundError:  # run as `python bench/bench_ingest.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        account,
        option,
        quick,
        start_server,
        stop_server,
        table,
    )

BATCH = 5  # images per notify (the API's limit)
URL_CHUNK = 25  # URLs asked for at once; the API allows up to 1000
DISTINCT = 50  # distinct noise images; the others are these with a comment segment added
WIDTH, HEIGHT, QUALITY = 1200, 900, 90  # noise at these settings is about 1.0 MB

FILES: list[bytes] = []  # filled before client processes fork, so they share it
HASHES: list[str] = []
LEAN = "--stdlib-client" in sys.argv[1:]


def base_jpegs(count: int) -> list[bytes]:
    """Distinct, decodable noise JPEGs of about 1 MB."""
    rng = random.Random(1)
    out = []
    for _ in range(count):
        image = Image.frombytes("RGB", (WIDTH, HEIGHT), rng.randbytes(WIDTH * HEIGHT * 3))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=QUALITY)
        out.append(buffer.getvalue())
    return out


def with_comment(jpeg: bytes, n: int) -> bytes:
    """The JPEG with a COM segment after SOI, so every file has its own MD5."""
    text = f"bench image {n}".encode()
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def baseline(files: list[bytes], folder: Path, durable: bool = False) -> float:
    """Seconds to write every file to disk and compute its MD5, in one plain loop.

    `durable`: each file is synced (fsync) before the next, then its folder, as a PUT is.
    """
    start = time.perf_counter()
    for n, data in enumerate(files):
        digest = hashlib.md5(usedforsecurity=False)
        with (folder / f"{n}.jpg").open("wb") as handle:
            for at in range(0, len(data), 1 << 20):
                chunk = data[at : at + (1 << 20)]
                digest.update(chunk)
                handle.write(chunk)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if durable:
            entry = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(entry)
            os.close(entry)
        digest.hexdigest()
    return time.perf_counter() - start


def recycle_pages(megabytes: float, folder: Path) -> None:
    """Write and delete a scratch file of `megabytes`, so the next writes get warm pages.

    On this VM the first write into a page the guest has not used lately costs about
    2.5 ms per MB more than a write into a page freed moments ago: whichever phase ran first
    paid it. Each phase now starts right after this, with nothing dirty left to write back.
    """
    block = bytes(1 << 20)
    path = folder / "recycle.scratch"
    with path.open("wb") as handle:
        for _ in range(int(megabytes) + 1):
            handle.write(block)
    path.unlink()
    os.sync()  # what an earlier phase left dirty is written back now, not during the next one


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if task.exists() else []
        total += sum(cpu_seconds(int(child)) for child in children)
    return total


def own_cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children (the client processes)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class Lean:
    """A keep-alive http.client connection with httpx's call shape (status_code, json, text)."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base)
        assert parts.hostname is not None, base
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        self.headers = headers

    def request(self, method: str, url: str, body: bytes | None = None) -> Answer:
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        headers = dict(self.headers)
        if body is not None and method == "POST":
            headers["Content-Type"] = "application/json"
        self.connection.request(method, "/" + path, body=body, headers=headers)
        answer = self.connection.getresponse()
        return Answer(answer.status, answer.read())

    def get(self, url: str) -> Answer:
        return self.request("GET", url)

    def put(self, url: str, content: bytes) -> Answer:
        return self.request("PUT", url, content)

    def post(self, url: str, json: object) -> Answer:
        return self.request("POST", url, _json.dumps(json).encode())

    def __enter__(self) -> Lean:
        return self

    def __exit__(self, *_: object) -> None:
        self.connection.close()


class Answer:
    """Status and body of one http.client answer."""

    def __init__(self, status: int, content: bytes) -> None:
        self.status_code, self.content = status, content

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return _json.loads(self.content)


def client(job: tuple[str, dict[str, str], int, int]) -> tuple[list[str], dict[str, float]]:
    """One client's share of FILES, in chunks of URL_CHUNK: upload URLs, PUTs, notifies."""
    return run_client(job, LEAN)


def run_client(
    job: tuple[str, dict[str, str], int, int], lean: bool
) -> tuple[list[str], dict[str, float]]:
    """client(), with http.client (`lean`) or httpx."""
    base, headers, index, clients = job
    errors: list[str] = []
    spent = {"upload_urls": 0.0, "PUT": 0.0, "notify": 0.0}

    def timed(step: str, began: float) -> float:
        now = time.perf_counter()
        spent[step] += now - began
        return now

    opened = (
        Lean(base, headers) if lean else httpx.Client(base_url=base, headers=headers, timeout=120)
    )
    with opened as http:
        for first in range(index * URL_CHUNK, len(FILES), clients * URL_CHUNK):
            numbers = range(first, min(first + URL_CHUNK, len(FILES)))
            began = time.perf_counter()
            answer = http.get(f"/api/v1/images/upload_urls?image_count={len(numbers)}")
            began = timed("upload_urls", began)
            if answer.status_code != 200:
                errors.append(f"upload_urls {answer.status_code}: {answer.text[:200]}")
                continue
            entries = list(zip(answer.json()["image_upload_urls"], numbers, strict=True))
            for at in range(0, len(entries), BATCH):
                batch = entries[at : at + BATCH]
                for entry, n in batch:
                    put = http.put(entry["url"], content=FILES[n])
                    if put.status_code >= 300:
                        errors.append(f"PUT {put.status_code}: {put.text[:200]}")
                began = timed("PUT", began)
                body = {
                    "images": [
                        {"id": e["image_id"], "name": f"bench image {n}", "hash": HASHES[n],
                         "is_private": True, "tags": [{"name": f"bench{n % 7}"}]}
                        for e, n in batch
                    ]
                }  # fmt: skip
                notify = http.post("/api/v1/images", json=body)
                began = timed("notify", began)
                if notify.status_code != 201:
                    errors.append(f"notify {notify.status_code}: {notify.text[:200]}")
    return errors, spent


def confirmed_count(base: str, headers: dict[str, str], bound: int) -> int:
    """How many private images the account lists, paging through the summary (bounded)."""
    seen, cursor = 0, None
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for _ in range(bound // 100 + 2):
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = http.get("/api/v1/images/private/summary", params=params).json()
            seen += len(page["images"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return seen


def main() -> None:
    count = option("--images", 40 if quick() else 1000)
    clients = option("--clients", 8)
    server_processes = option("--server-processes", 1)
    use_processes = "--client-processes" in sys.argv[1:]

    made = time.perf_counter()
    bases = base_jpegs(min(DISTINCT, count))
    FILES[:] = [with_comment(bases[n % len(bases)], n) for n in range(count)]
    HASHES[:] = [hashlib.md5(f, usedforsecurity=False).hexdigest() for f in FILES]
    made = time.perf_counter() - made
    megabytes = sum(map(len, FILES)) / 1e6
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        (folder / "plain").mkdir()
        recycle_pages(1.5 * megabytes, folder)
        before = baseline(FILES, folder / "plain")
        process, base = start_server(
            folder / "server",
            BITIMAGE_PROCESSES=str(server_processes),
            BITIMAGE_RUN_WORKER="false",  # analysis has its own benchmark (bench_classifier)
        )
        try:
            headers = account(base)
            jobs = [(base, headers, n, clients) for n in range(clients)]
            run: Callable[[], list[tuple[list[str], dict[str, float]]]]
            if use_processes:
                context = multiprocessing.get_context("fork")

                def run() -> list[tuple[list[str], dict[str, float]]]:
                    with context.Pool(clients) as pool:
                        return pool.map(client, jobs)
            else:

                def run() -> list[tuple[list[str], dict[str, float]]]:
                    with ThreadPoolExecutor(clients) as pool:
                        return list(pool.map(client, jobs))

            recycle_pages(1.5 * megabytes, folder)
            server_cpu, client_cpu = cpu_seconds(process.pid), own_cpu_seconds()
            start = time.perf_counter()
            results = run()
            api_seconds = time.perf_counter() - start
            server_cpu = cpu_seconds(process.pid) - server_cpu
            client_cpu = own_cpu_seconds() - client_cpu
            listed = confirmed_count(base, headers, count)
        finally:
            stop_server(process)
        # Page-cache writeback makes a lone baseline noisy: take it before and after the
        # API run and compare against the faster one (the stricter ratio).
        after = baseline(FILES, folder / "plain")
    base_seconds = min(before, after)
    errors = [error for found, _ in results for error in found]
    spent = {step: sum(s[step] for _, s in results) for step in results[0][1]}
    kind = "processes" if use_processes else "threads"
    print(
        f"{count} JPEGs ({WIDTH}x{HEIGHT} noise, q{QUALITY}), {megabytes:.0f} MB, "
        f"mean {megabytes / count:.2f} MB; made in {made:.1f} s (not timed)"
    )
    print(f"{clients} client {kind}, {server_processes} server process(es), loopback")
    rows = [
        (
            "baseline: write + hashlib.md5 loop",
            f"{base_seconds:.2f} ({before:.2f}/{after:.2f})",
            f"{count / base_seconds:.1f}",
            f"{megabytes / base_seconds:.1f}",
            "100%",
        ),
        (
            "API: upload_urls -> PUT -> notify",
            f"{api_seconds:.2f}",
            f"{count / api_seconds:.1f}",
            f"{megabytes / api_seconds:.1f}",
            f"{base_seconds / api_seconds:.1%}",
        ),
    ]
    print(table(rows, ("what", "seconds", "images/s", "MB/s", "ratio")))
    ratio = base_seconds / api_seconds
    print(f"target: API >= 50% of baseline -> {'met' if ratio >= 0.5 else 'MISSED'}")
    total = sum(spent.values()) or 1.0
    print("client time by step: " + ", ".join(f"{k} {v / total:.0%}" for k, v in spent.items()))
    print(
        f"CPU per image during the API run: server {server_cpu / count * 1000:.2f} ms, "
        f"clients {client_cpu / count * 1000:.2f} ms ({os.cpu_count()} cores, shared by both)"
    )
    print(f"images listed by the private summary afterwards: {listed} of {count}")
    if errors:
        print(f"{len(errors)} request(s) FAILED, first: {errors[0]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
