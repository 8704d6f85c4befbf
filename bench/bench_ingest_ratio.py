"""Bit-image's whole ingest flow against the bare upload server, both durable, in one run.

The same 1,000 JPEGs of about 1 MB, the same 8 client threads (http.client, keep-alive, each
taking every 8th chunk of 25 files) and the same number of server processes for both:
- Bit-image: upload_urls (25) -> PUT -> notify (5), `bitimage serve` with BITIMAGE_RUN_WORKER
  =false; each PUT is synced before its answer, each confirm before its commit, SQLite with
  synchronous=FULL.
- the bare server: uvicorn serving bench/_bare_upload.py, which hashes, writes and syncs each
  body (file and folder), nothing else.
- the durable loop: write + MD5 + fsync of file and folder, in one plain loop, printed beside.
The two servers take turns, --rounds times (bare first), each on a fresh server and folder; the
fastest run of each counts (the machine is shared: the other helpers' load comes and goes).
Each phase starts after the same page-cache preparation (bench_ingest.recycle_pages).
Target (issue 12): Bit-image >= 60% of the bare server's images/s. --quick: 40 images, 1 round.
Options: --images N, --clients N, --server-processes N (default 1), --rounds N (default 2).
Run: python bench/bench_ingest_ratio.py [--quick]
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

try:
    from bench import bench_ingest as ingest
    from bench._common import (
        account,
        option,
        quick,
        start_bare_upload,
        start_server,
        stop_server,
        table,
    )
except ModuleNotFoundError:  # run as `python bench/bench_ingest_ratio.py`
    import bench_ingest as ingest  # type: ignore[import-not-found,no-redef]
    from _common import (  # type: ignore[import-not-found,no-redef]
        account,
        option,
        quick,
        start_bare_upload,
        start_server,
        stop_server,
        table,
    )

TARGET = 0.60


def bare_client(job: tuple[int, int, int]) -> list[str]:
    """One client's share of the files, chunked as ingest.client chunks them: PUTs only."""
    port, index, clients = job
    errors: list[str] = []
    files, chunk = ingest.FILES, ingest.URL_CHUNK
    with ingest.Lean(f"http://127.0.0.1:{port}", {}) as http:
        for first in range(index * chunk, len(files), clients * chunk):
            for n in range(first, min(first + chunk, len(files))):
                answer = http.put(f"/upload/{n}", files[n])
                if answer.status_code != 200:
                    errors.append(f"bare PUT {answer.status_code}: {answer.text[:200]}")
    return errors


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process and its live descendants (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    user, system = int(fields[11]) / tick, int(fields[12]) / tick
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split() if task.exists() else []:
            more = cpu_times(int(child))
            user, system = user + more[0], system + more[1]
    return user, system


Run = tuple[float, tuple[float, float], list[str]]  # seconds, server CPU (user, sys), errors


def measured(pid: int, work: Callable[[], list[str]]) -> Run:
    """Seconds of `work`, the server's CPU seconds meanwhile, and the errors it returned."""
    cpu, start = cpu_times(pid), time.perf_counter()
    errors = work()
    seconds = time.perf_counter() - start
    after = cpu_times(pid)
    return seconds, (after[0] - cpu[0], after[1] - cpu[1]), errors


def bare_run(folder: Path, processes: int, clients: int) -> Run:
    """The bare server's phase: PUT every file, then the server's files are removed."""
    process, port = start_bare_upload(folder / "bare", processes=processes)
    try:
        ingest.recycle_pages(1.5 * megabytes(), folder)

        def work() -> list[str]:
            jobs = [(port, n, clients) for n in range(clients)]
            with ThreadPoolExecutor(clients) as pool:
                return [e for found in pool.map(bare_client, jobs) for e in found]

        return measured(process.pid, work)
    finally:
        stop_server(process)
        shutil.rmtree(folder / "bare", ignore_errors=True)


def bitimage_run(folder: Path, processes: int, clients: int) -> Run:
    """Bit-image's phase: the whole flow for every file, a check that all were listed; rm."""
    process, base = start_server(
        folder / "server", BITIMAGE_PROCESSES=str(processes), BITIMAGE_RUN_WORKER="false"
    )
    try:
        headers = account(base)
        ingest.recycle_pages(1.5 * megabytes(), folder)

        def work() -> list[str]:
            jobs = [(base, headers, n, clients) for n in range(clients)]
            run = functools.partial(ingest.run_client, lean=True)
            with ThreadPoolExecutor(clients) as pool:
                return [e for found, _ in pool.map(run, jobs) for e in found]

        seconds, cpu, errors = measured(process.pid, work)
        listed = ingest.confirmed_count(base, headers, len(ingest.FILES))
        if listed != len(ingest.FILES):
            errors.append(f"{listed} of {len(ingest.FILES)} images listed afterwards")
        return seconds, cpu, errors
    finally:
        stop_server(process)
        shutil.rmtree(folder, ignore_errors=True)


def loop_run(folder: Path) -> float:
    """The durable write + MD5 loop's seconds, after the same page-cache preparation."""
    (folder / "loop").mkdir(exist_ok=True)
    ingest.recycle_pages(1.5 * megabytes(), folder)
    return ingest.baseline(ingest.FILES, folder / "loop", durable=True)


def per_image(cpu: tuple[float, float] | None, count: int) -> str:
    """Server CPU per image, in ms: total (user+sys)."""
    if cpu is None:
        return ""
    user, system = (t / count * 1000 for t in cpu)
    return f"{user + system:.2f} ({user:.2f}+{system:.2f})"


def megabytes() -> float:
    """Size of all the files, in MB."""
    return sum(map(len, ingest.FILES)) / 1e6


def main() -> None:
    count = option("--images", 40 if quick() else 1000)
    clients = option("--clients", 8)
    processes = option("--server-processes", 1)
    bases = ingest.base_jpegs(min(ingest.DISTINCT, count))
    ingest.FILES[:] = [ingest.with_comment(bases[n % len(bases)], n) for n in range(count)]
    ingest.HASHES[:] = [hashlib.md5(f, usedforsecurity=False).hexdigest() for f in ingest.FILES]
    with tempfile.TemporaryDirectory(prefix="bench-ingest-ratio-") as tmp:
        folder = Path(tmp)
        loops = [loop_run(folder)]
        bare, flows = [], []
        for round_ in range(option("--rounds", 1 if quick() else 2)):
            bare.append(bare_run(folder, processes, clients))
            flows.append(bitimage_run(folder / f"round{round_}", processes, clients))
        loops.append(loop_run(folder))
    errors = [e for run in (*bare, *flows) for e in run[2]]
    best, ours = (min(runs, key=lambda run: run[0]) for runs in (bare, flows))
    ratio = best[0] / ours[0]
    print(f"{count} JPEGs, {megabytes():.0f} MB; {clients} http.client threads for both servers,")
    print(f"{processes} server process(es) each; {os.cpu_count()} cores shared by all, loopback")
    rows = [
        (
            "durable loop: write + MD5 + fsync",
            min(loops),
            "/".join(f"{s:.2f}" for s in loops),
            None,
        ),
        ("bare server: PUT, durable", best[0], "/".join(f"{r[0]:.2f}" for r in bare), best[1]),
        (
            "Bit-image: upload_urls, PUT, notify",
            ours[0],
            "/".join(f"{r[0]:.2f}" for r in flows),
            ours[1],
        ),
    ]
    print(
        table(
            [
                (what, f"{seconds:.2f}", runs, f"{count / seconds:.1f}",
                 f"{best[0] / seconds:.1%}", per_image(cpu, count))
                for what, seconds, runs, cpu in rows
            ],
            ("what", "seconds", "runs", "images/s", "vs bare", "server CPU ms/image (user+sys)"),
        )
    )  # fmt: skip
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"target: Bit-image >= {TARGET:.0%} of the bare server -> {ratio:.1%}, {verdict}")
    if errors:
        print(f"{len(errors)} request(s) FAILED, first: {errors[0]}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
