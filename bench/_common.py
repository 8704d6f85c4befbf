"""Shared helpers for the benchmarks: a real server on a free loopback port, an account.

Every script imports this module whether it runs as `python bench/bench_x.py` (the script's
folder is on sys.path) or as `python -m bench.bench_x` (the project root is).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
PASSWORD = "benchmark password"
MIB = 1024 * 1024


def _help() -> None:
    """`-h` / `--help`: print the running script's docstring (its options) and stop."""
    if {"-h", "--help"} & set(sys.argv[1:]):
        main = sys.modules["__main__"]
        print((main.__doc__ or "No help for this script.").strip())
        raise SystemExit(0)


def quick() -> bool:
    """True when the script was asked for a tiny smoke run."""
    _help()
    return "--quick" in sys.argv[1:]


def option(name: str, default: int) -> int:
    """An integer command-line option given as `--name N` (default when absent)."""
    _help()
    args = sys.argv[1:]
    if name in args:
        return int(args[args.index(name) + 1])
    return default


def text_option(name: str, default: str) -> str:
    """A text command-line option given as `--name VALUE` (default when absent)."""
    _help()
    args = sys.argv[1:]
    if name in args:
        return args[args.index(name) + 1]
    return default


def child_report(script: str, *args: str) -> dict[str, Any]:
    """Run `script --child ARGS` in a fresh interpreter; its last output line, read as JSON."""
    command = [sys.executable, str(Path(script).resolve()), "--child", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident set size of a process (VmRSS), in MB; 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (fraction in 0..1)."""
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def start_server(
    data_dir: Path, *, wrapper: Sequence[str] = (), startup: float = 30, **env_overrides: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`bitimage serve` on a free loopback port; returns the process and its base URL.

    `wrapper` runs the server under another program (valgrind), which may need a longer
    `startup` (seconds). The server's output goes to `data_dir/server.log`, shown in part
    if it fails to start.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
    env.update({"BITIMAGE_ARGON2_MEMORY_KIB": "8192", "BITIMAGE_HOST": "127.0.0.1"})
    env.update(env_overrides)
    command = [*wrapper, sys.executable, "-m", "bitimage.cli", "serve", "--port", str(port)]
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(process)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise SystemExit(f"the server did not start; end of its log:\n{tail}")


def start_bare_upload(
    folder: Path, *, processes: int = 1, wrapper: Sequence[str] = (), startup: float = 30
) -> tuple[subprocess.Popen[bytes], int]:
    """uvicorn serving bench/_bare_upload.py on a free loopback port, once it answers a PUT.

    It writes (and syncs) every body into `folder`, made if need be. `wrapper` runs it under
    another program (valgrind), which may need a longer `startup`. Its output is dropped; a
    server that does not answer in time stops the benchmark.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    app = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "_bare_upload:app"]
    options = ["--port", str(port), "--workers", str(processes)]  # access log on, as in serve
    process = subprocess.Popen(
        [*wrapper, *app, *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "BENCH_BARE_UPLOAD_DIR": str(folder)},
    )
    deadline = time.monotonic() + startup
    while time.monotonic() < deadline and process.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("PUT", "/ready", body=b"")
            connection.getresponse().read()
            connection.close()
            return process, port
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    raise SystemExit("the bare upload app (bench/_bare_upload.py) did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop the server (SIGTERM, then SIGKILL after 30 s) and wait for it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def account(base: str, email: str = "bench@example.com") -> dict[str, str]:
    """Sign up, log in, create the Bit-image account; return the Authorization header."""
    creds = {"email": email, "password": PASSWORD}
    with httpx.Client(base_url=base, timeout=60) as http:
        http.post("/cas/signup", json=creds).raise_for_status()
        login = http.post("/cas/loginSubmit", json=creds)
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        http.post("/api/v1/users", headers=headers).raise_for_status()
    return headers


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def best_rate(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """Calls per second of fn(), the best of `rounds` rounds of `calls` calls (one thread)."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = max(best, calls / (time.perf_counter() - start))
    return best


ORIENTATION = 0x0112  # the EXIF tag


def photo_jpeg(
    pixels: Any, width: int, height: int, quality: int, rotated: bool = False, grain: float = 6.0
) -> bytes:
    """A real photo (an RGB array) scaled up with film-like grain, so it compresses like one."""
    import numpy as np
    from PIL import Image

    image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(0).normal(0, grain, (height, width, 3))
    grainy = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(grainy)
    exif = Image.Exif()
    if rotated:  # stored sideways, as phones do: the worker turns it upright before analysing
        image = image.transpose(Image.Transpose.ROTATE_90)
        exif[ORIENTATION] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


ADMIN_URL = os.environ.get(
    "BITIMAGE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def bench_container(
    database: str, folder: Path, name: str = "", keep: bool = False
) -> Iterator[Any]:
    """A migrated container (embedded defaults in `folder`) on SQLite or PostgreSQL.

    PostgreSQL: on the database `name` when given (kept), else on a fresh one made on
    BITIMAGE_BENCH_POSTGRES_URL and dropped at the end unless `keep` (then named on stderr).
    """
    # Imported here: most scripts start servers and never need the server's code in-process.
    import uuid

    from sqlalchemy import create_engine, make_url, text

    from bitimage.bootstrap import bootstrap
    from bitimage.config import load_settings
    from bitimage.db.migrate import upgrade

    url, admin, drop = None, None, False
    if database == "postgresql":
        admin = create_engine(
            "postgresql+psycopg://" + ADMIN_URL.removeprefix("postgresql://"),
            isolation_level="AUTOCOMMIT",
        )
        if not name:
            name = f"bitimage_bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            drop = not keep
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    settings = load_settings(
        data_dir=folder, database_url=url, argon2_memory_kib=8192, run_worker=False
    )
    container = bootstrap(settings)
    try:
        upgrade(container.database.engine)
        yield container
    finally:
        container.close()
        if admin is not None:
            if drop:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                print(f"postgresql: database {name} kept (drop it by hand)", file=sys.stderr)
            admin.dispose()
