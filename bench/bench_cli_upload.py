"""`bitimage upload` (the real CLI, as a subprocess) against the API ingest rate, and its memory.

Speed: 500 JPEGs of about 1 MB (as bench_ingest makes them) in a folder, uploaded by
`bitimage upload DIR --json` to `bitimage serve` on a loopback port (a fresh account per run),
timed from process start to exit: start-up, MD5 of every file and all requests included.
Baseline, same run: bench_ingest's API client (8 threads, upload_urls -> PUT -> notify from
memory, MD5s precomputed and not timed) on the same server with the same files; runs alternate
API, CLI (3 rounds) and the best of each counts. Target: the CLI reaches >= 80% of the API's
images/s. Also timed: the same upload into an account of 10 images (listed once, then every
file hashed before it is sent), into one of 1010 images (every file asked about with `hash=`),
and that again (everything skipped).
Memory: the CLI's peak RSS (its VmHWM, sampled every 10 ms) for 10 and 1000 small files and
for the 500 ~1 MB ones: it should stay flat. --quick: 40 images, 1 round, 10 vs 200 small files.
Run: python bench/bench_cli_upload.py [--quick]
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

try:
    from bench import bench_ingest
    from bench._common import account, option, quick, start_server, stop_server, table
except ModuleNotFoundError:  # run as `python bench/bench_cli_upload.py`
    import bench_ingest  # type: ignore[import-not-found,no-redef]
    from _common import (  # type: ignore[import-not-found,no-redef]
        account,
        option,
        quick,
        start_server,
        stop_server,
        table,
    )

CLIENTS = 8  # bench_ingest's client threads; the CLI's default --concurrency is 8 too


def write_photos(folder: Path, count: int) -> list[bytes]:
    """bench_ingest's ~1 MB noise JPEGs, written as folder/photo-N.jpg; returns the bytes."""
    folder.mkdir(parents=True)
    bases = bench_ingest.base_jpegs(min(bench_ingest.DISTINCT, count))
    files = [bench_ingest.with_comment(bases[n % len(bases)], n) for n in range(count)]
    for n, data in enumerate(files):
        (folder / f"photo-{n:04d}.jpg").write_bytes(data)
    return files


def write_small(folder: Path, count: int, salt: int) -> None:
    """`count` small distinct JPEGs (about 2 KB) in a folder."""
    folder.mkdir(parents=True)
    rng = random.Random(salt)
    image = Image.new("RGB", (64, 48), (rng.randrange(256), 90, 40))
    out = io.BytesIO()
    image.save(out, "JPEG")
    base = out.getvalue()
    for n in range(count):
        (folder / f"s{n:05d}.jpg").write_bytes(bench_ingest.with_comment(base, salt * 100000 + n))


def api_run(base: str, email: str) -> float:
    """Seconds for bench_ingest's clients to ingest bench_ingest.FILES into a fresh account."""
    headers = account(base, email)
    jobs = [(base, headers, n, CLIENTS) for n in range(CLIENTS)]
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(bench_ingest.client, jobs))
    seconds = time.perf_counter() - start
    errors = [error for found, _ in results for error in found]
    if errors:
        raise SystemExit(f"API run failed: {errors[0]}")
    return seconds


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set size) of a live process, in MB; 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cli(base: str, token: str, folder: Path) -> tuple[float, float, dict[str, object]]:
    """Run `bitimage upload FOLDER --json`; (seconds, peak RSS in MB, its JSON answer).

    The peak is the process's own VmHWM, read every 10 ms while it runs (it only grows).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
    env.update(BITIMAGE_SERVER=base, BITIMAGE_TOKEN=token)
    command = [sys.executable, "-m", "bitimage.cli", "upload", str(folder), "--json"]
    peak = 0.0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        while process.poll() is None:
            peak = max(peak, peak_rss_mb(process.pid))
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"CLI exited {process.returncode}: {err.read().decode()[-2000:]}")
        answer = json.loads(out.read())
    return seconds, peak, answer


def cli_account(base: str, email: str) -> str:
    """A fresh account's token."""
    return account(base, email)["Authorization"].split()[1]


def main() -> None:
    count = option("--images", 40 if quick() else 500)
    rounds = option("--rounds", 1 if quick() else 3)
    many = 200 if quick() else 1000
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        folder = Path(tmp)
        made = time.perf_counter()
        files = write_photos(folder / "photos", count)
        bench_ingest.FILES[:] = files
        bench_ingest.HASHES[:] = [hashlib.md5(f, usedforsecurity=False).hexdigest() for f in files]
        write_small(folder / "small-10", 10, 1)
        write_small(folder / "small-many", many, 2)
        made = time.perf_counter() - made
        megabytes = sum(map(len, files)) / 1e6
        process, base = start_server(folder / "server", BITIMAGE_RUN_WORKER="false")
        try:
            api_times, cli_times, cli_rss = [], [], []
            for n in range(rounds):
                api_times.append(api_run(base, f"api{n}@example.com"))
                token = cli_account(base, f"cli{n}@example.com")
                seconds, rss, answer = cli(base, token, folder / "photos")
                if answer["uploaded"] != count:
                    raise SystemExit(f"the CLI uploaded {answer['uploaded']} of {count}")
                cli_times.append(seconds)
                cli_rss.append(rss)
            small_token = cli_account(base, "small@example.com")
            small_s, small_rss, _ = cli(base, small_token, folder / "small-10")
            many_s, many_rss, _ = cli(base, small_token, folder / "small-many")
            token = cli_account(base, "one@example.com")
            cli(base, token, folder / "small-10")
            listed, listed_rss, answer = cli(base, token, folder / "photos")
            if answer["uploaded"] != count:
                raise SystemExit(f"the CLI uploaded {answer['uploaded']} of {count}")
            asked, asked_rss, answer = cli(base, small_token, folder / "photos")
            if answer["uploaded"] != count:
                raise SystemExit(f"the CLI uploaded {answer['uploaded']} of {count}")
            again, again_rss, answer = cli(base, small_token, folder / "photos")
            if answer["skipped"] != count or answer["uploaded"] != 0:
                raise SystemExit(f"second run: {answer['uploaded']} uploaded, not all skipped")
        finally:
            stop_server(process)
    api_best, cli_best = min(api_times), min(cli_times)
    print(
        f"{count} JPEGs ({bench_ingest.WIDTH}x{bench_ingest.HEIGHT} noise), {megabytes:.0f} MB, "
        f"mean {megabytes / count:.2f} MB; made in {made:.1f} s (not timed); "
        f"{CLIENTS} API client threads vs `bitimage upload` (--concurrency 8); "
        f"{os.cpu_count()} CPUs"
    )

    def row(what: str, times: list[float], ratio: bool = True) -> tuple[str, ...]:
        best = min(times)
        return (
            what,
            " / ".join(f"{t:.2f}" for t in times),
            f"{count / best:.1f}",
            f"{megabytes / best:.1f}",
            f"{api_best / best:.1%}" if ratio else "-",
        )

    rows = [
        row("API (bench_ingest client), baseline", api_times),
        row("CLI `bitimage upload DIR`, new account", cli_times),
        row("CLI, account of 10 images (listed once)", [listed]),
        row(f"CLI, account of {10 + many} images (hash= per file)", [asked]),
        row("CLI, same again: all skipped (hash= per file)", [again], ratio=False),
    ]
    print(table(rows, ("what", "seconds (runs)", "images/s", "MB/s", "vs API")))
    ratio = api_best / cli_best
    print(f"target: CLI >= 80% of the API's images/s -> {'met' if ratio >= 0.8 else 'MISSED'}")
    rss_rows = [
        ("10 small files", f"{small_s:.2f}", f"{small_rss:.1f}"),
        (f"{many} small files", f"{many_s:.2f}", f"{many_rss:.1f}"),
        (f"{count} ~1 MB files, new account", f"{cli_best:.2f}", f"{max(cli_rss):.1f}"),
        (f"{count} ~1 MB files, listed account", f"{listed:.2f}", f"{listed_rss:.1f}"),
        (f"{count} ~1 MB files, hash= per file", f"{asked:.2f}", f"{asked_rss:.1f}"),
        (f"{count} ~1 MB files, all skipped", f"{again:.2f}", f"{again_rss:.1f}"),
    ]
    print(table(rss_rows, ("CLI upload of", "seconds", "peak RSS MB")))
    growth = many_rss - small_rss
    print(f"peak RSS growth from 10 to {many} files: {growth:+.1f} MB")


if __name__ == "__main__":
    main()
