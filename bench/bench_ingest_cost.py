"""Instructions per request of the ingest flow, counted by valgrind's callgrind: no timing noise.

Timed figures on a shared VM move by a quarter between runs (bench_ingest.py); instruction
counts repeat to the last few digits for the same code, so they show what a change saved.
`bitimage serve` runs under callgrind with counting off; counting is switched on around
PUTs of ~1 MB JPEGs, notifies of 5 and upload_urls of 25, each after a warm-up, and each
phase is dumped on its own. Baseline, same run: a bare ASGI app under uvicorn that only
hashes (MD5) and writes the same PUT bodies (bench/_bare_upload.py), the floor of any
Python upload endpoint; and hashlib's MD5 of the same bytes, alone.
Kernel work (socket copies, page-cache writes) is not counted: callgrind sees user space.
Needs valgrind (Debian: apt-get install -y valgrind). --quick: fewer requests.
Run: python bench/bench_ingest_cost.py [--quick]
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

try:
    from bench._common import (
        account,
        quick,
        start_bare_upload,
        start_server,
        stop_server,
        table,
    )
    from bench.bench_ingest import Lean, base_jpegs, with_comment
except ModuleNotFoundError:  # run as `python bench/bench_ingest_cost.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        account,
        quick,
        start_bare_upload,
        start_server,
        stop_server,
        table,
    )
    from bench_ingest import Lean, base_jpegs, with_comment  # type: ignore[import-not-found,no-redef]


def tool(name: str) -> str:
    """The full path of a valgrind program; stop with a hint when it is missing."""
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"needs {name}: apt-get install -y valgrind")
    return found


COUNT_OFF = [tool("valgrind"), "--tool=callgrind", "--instr-atstart=no"]
CONTROL = tool("callgrind_control")


def control(pid: int, *args: str) -> None:
    """Send a command to the callgrind of `pid` (counting on/off, dump, zero)."""
    subprocess.run([CONTROL, *args, str(pid)], check=True, capture_output=True)


def totals(path: Path) -> int:
    """The instruction count of one callgrind dump file."""
    for line in path.read_text().splitlines():
        if line.startswith("totals:"):  # "summary:" reads 0 in a file written at exit
            return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")


def counted(pid: int, run: Callable[[], object], out: Path, dump: int) -> int:
    """Instructions of `run()` in the process: counting on, run, dump number `dump`, off."""
    control(pid, "--zero")
    control(pid, "--instr=on")
    run()
    control(pid, "--dump")
    control(pid, "--instr=off")
    return totals(Path(f"{out}.{dump}"))


def md5_alone(files: list[bytes], folder: Path) -> float:
    """Instructions per file of hashlib.md5 over the files, in a callgrind child process."""
    data = folder / "md5.bin"
    data.write_bytes(b"".join(files))
    script = (
        "import hashlib, subprocess, os, sys; d = open(sys.argv[1], 'rb').read(); "
        "subprocess.run([sys.argv[2], '--instr=on', str(os.getpid())], check=True, "
        "capture_output=True); hashlib.md5(d, usedforsecurity=False).hexdigest(); "
        "subprocess.run([sys.argv[2], '--instr=off', str(os.getpid())], check=True, "
        "capture_output=True)"
    )
    out = folder / "md5.callgrind"
    command = [*COUNT_OFF, f"--callgrind-out-file={out}", sys.executable, "-c", script]
    subprocess.run([*command, str(data), CONTROL], check=True, capture_output=True)
    return totals(out) / len(files)


def bare_put(files: list[bytes], folder: Path) -> float:
    """Instructions per PUT of the bare ASGI upload app, after a warm-up."""
    out = folder / "bare.callgrind"
    wrapper = [*COUNT_OFF, f"--callgrind-out-file={out}"]
    process, port = start_bare_upload(folder / "bare", wrapper=wrapper, startup=300)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def puts() -> None:
            for data in files:
                connection.request("PUT", "/upload", body=data)
                connection.getresponse().read()

        puts()  # warm-up
        return counted(process.pid, puts, out, 1) / len(files)
    finally:
        stop_server(process)


def bitimage(files: list[bytes], hashes: list[str], folder: Path) -> dict[str, float]:
    """Instructions per PUT, per notify of 5 and per upload_urls of 25 in `bitimage serve`."""
    out = folder / "server.callgrind"
    wrapper = [*COUNT_OFF, f"--callgrind-out-file={out}"]
    process, base = start_server(
        folder / "server", wrapper=wrapper, startup=300, BITIMAGE_RUN_WORKER="false"
    )
    try:
        http = Lean(base, account(base))
        count = len(files)
        urls = []
        for _ in range(2 + 2 * count // 25):
            answer = http.get("/api/v1/images/upload_urls?image_count=25")
            urls.extend(answer.json()["image_upload_urls"])
        numbers = list(range(2 * count))

        def put(first: int) -> None:
            for n in numbers[first : first + count]:
                answer = http.put(urls[n]["url"], files[n % count])
                assert answer.status_code == 200, answer.text

        def notify(first: int) -> None:
            for at in range(first, first + count, 5):
                body = {
                    "images": [
                        {"id": urls[n]["image_id"], "name": f"bench image {n}",
                         "hash": hashes[n % count], "is_private": True,
                         "tags": [{"name": f"bench{n % 7}"}]}
                        for n in range(at, at + 5)
                    ]
                }  # fmt: skip
                answer = http.post("/api/v1/images", json=body)
                assert answer.status_code == 201, answer.text

        def upload_urls() -> None:
            for _ in range(count // 25 or 1):
                answer = http.get("/api/v1/images/upload_urls?image_count=25")
                assert answer.status_code == 200, answer.text

        put(0)
        notify(0)  # warm-up: every path and statement cache has run once
        pid = process.pid
        return {
            "PUT": counted(pid, lambda: put(count), out, 1) / count,
            "notify": counted(pid, lambda: notify(count), out, 2) / (count // 5),
            "upload_urls": counted(pid, upload_urls, out, 3) / (count // 25 or 1),
        }
    finally:
        stop_server(process)


def main() -> None:
    count = 10 if quick() else 50
    bases = base_jpegs(5)
    files = [with_comment(bases[n % len(bases)], n) for n in range(count)]
    hashes = [hashlib.md5(f, usedforsecurity=False).hexdigest() for f in files]
    megabytes = sum(map(len, files)) / 1e6 / count
    with tempfile.TemporaryDirectory(prefix="bench-ingest-cost-") as tmp:
        folder = Path(tmp)
        md5 = md5_alone(files, folder)
        bare = bare_put(files, folder)
        ours = bitimage(files, hashes, folder)
    per_image = ours["PUT"] + ours["notify"] / 5 + ours["upload_urls"] / 25
    rows = [
        ("hashlib.md5 of one file, alone", md5, md5, md5 / bare),
        ("baseline: bare ASGI PUT (MD5 + write)", bare, bare, 1.0),
        ("Bit-image PUT (local signed store)", ours["PUT"], ours["PUT"], ours["PUT"] / bare),
        ("Bit-image notify, 5 images", ours["notify"], ours["notify"] / 5, None),
        ("Bit-image upload_urls, 25 URLs", ours["upload_urls"], ours["upload_urls"] / 25, None),
        ("Bit-image, all three per image", None, per_image, per_image / bare),
    ]
    print(f"{count} JPEGs of {megabytes:.2f} MB; user-space instructions (callgrind), millions")
    print(
        table(
            [
                (what, "" if n is None else f"{n / 1e6:.2f}", f"{p / 1e6:.2f}",
                 "" if r is None else f"{r:.0%}")
                for what, n, p, r in rows
            ],
            ("what", "per request", "per image", "vs bare PUT"),
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
