"""The web application in Chromium: the first screen of thumbnails, and browser uploads.

First screen: an account holds N photos of about 1 MB (skimage's astronaut at 2048x1536, q90,
grain 10, each with its own JPEG comment so every MD5 differs), their thumbnails made. A fresh
browser context (no cache) opens `/` logged in, 1280x900; measured until every thumbnail tile in the
viewport shows its loaded thumbnail (performance.now() from navigation start, polled every
animation frame), and the bytes transferred until then (navigation + resource timing
transferSize: the page, its modules, the JSON pages, the thumbnails). Best of 3 loads.
Targets: under 1 s and under 3 MB.
Upload: M of those photos picked through the page's file input and sent with its Upload button
(MD5 in the worker, URLs, parallel PUTs, notify in batches), timed from the click until every
file is confirmed; against `bitimage upload DIR` (the CLI, a subprocess: start-up included) on
the same files into another fresh account, in the same run. Target: the page reaches 70% of
the CLI's images/s.
--quick: N=60, M=10, one load. Run: python bench/bench_web.py [--quick]
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, sync_playwright
from skimage import data

try:
    from bench._common import account, photo_jpeg, quick, start_server, stop_server, table
    from bench.bench_ingest import with_comment
except ModuleNotFoundError:  # run as `python bench/bench_web.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        account,
        photo_jpeg,
        quick,
        start_server,
        stop_server,
        table,
    )
    from bench_ingest import with_comment  # type: ignore[import-not-found,no-redef]

CHROMIUM = "/usr/bin/chromium"
FIRST_SCREEN = """() => {
    const tiles = [...document.querySelectorAll(".tile")];
    const seen = tiles.filter((t) => t.getBoundingClientRect().top < window.innerHeight);
    const painted = (t) => {
        const img = t.querySelector("img");
        return t.dataset.ready === "yes" && img.complete && img.naturalWidth > 0;
    };
    return seen.length > 0 && seen.every(painted) ? seen.length : 0;
}"""
BYTES = """() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const resources = performance.getEntriesByType("resource");
    return [performance.now(), (nav ? nav.transferSize : 0)
        + resources.reduce((n, r) => n + r.transferSize, 0), resources.length];
}"""


def fill(base: str, headers: dict[str, str], files: list[bytes]) -> None:
    """Upload `files` through the API (8 threads, batches of 5)."""

    def batch(chunk: list[bytes]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            urls = http.get(
                "/api/v1/images/upload_urls", params={"image_count": len(chunk)}
            ).json()["image_upload_urls"]
            images: list[dict[str, str]] = []
            for url, content in zip(urls, chunk, strict=True):
                httpx.put(url["url"], content=content, timeout=120).raise_for_status()
                md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
                images.append(
                    {"id": url["image_id"], "name": f"photo {len(images)}.jpg", "hash": md5}
                )
            http.post("/api/v1/images", json={"images": images}).raise_for_status()

    chunks = [files[i : i + 5] for i in range(0, len(files), 5)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(batch, chunks))


def thumbnails_ready(base: str, headers: dict[str, str], count: int) -> None:
    """Wait until every image has its thumbnail (the embedded worker makes them)."""
    deadline = time.monotonic() + 60 + count
    while time.monotonic() < deadline:
        ready, cursor = 0, None
        while True:
            params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = httpx.get(
                f"{base}/api/v1/images/private/summary", params=params, headers=headers, timeout=60
            ).json()
            ready += sum(1 for image in page["images"] if image["thumbnail_url"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        if ready >= count:
            return
        time.sleep(1)
    raise SystemExit("thumbnails were not made in time")


def logged_in(browser: Browser, base: str, token: str) -> Any:
    """A fresh context (empty cache) whose page starts logged in."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
    session = json.dumps({"token": token})
    context.add_init_script(f"localStorage.setItem('bitimage.session', {json.dumps(session)})")
    return context


def first_screen(browser: Browser, base: str, token: str) -> tuple[float, int, int]:
    """(ms until the first screen of thumbnails is painted, bytes by then, tiles painted)."""
    context = logged_in(browser, base, token)
    page = context.new_page()
    page.goto("/")
    tiles = page.wait_for_function(FIRST_SCREEN, polling="raf", timeout=60_000).json_value()
    ms, transferred, _ = page.evaluate(BYTES)
    context.close()
    return float(ms), int(transferred), int(tiles)


def browser_upload(browser: Browser, base: str, token: str, paths: list[Path]) -> float:
    """Seconds from the Upload click until every file is confirmed."""
    context = logged_in(browser, base, token)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Choose images").set_input_files([str(p) for p in paths])
    start = time.perf_counter()
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function(
        "(n) => document.querySelectorAll('.uploads li[data-state=done]').length === n",
        arg=len(paths),
        timeout=600_000,
    )
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def cli_upload(base: str, token: str, folder: Path) -> float:
    """Seconds `bitimage upload FOLDER` takes, start-up included."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
    env.update(BITIMAGE_SERVER=base, BITIMAGE_TOKEN=token)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bitimage.cli", "upload", str(folder), "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    """Fill an account, load its first screen, then race the page's upload against the CLI's."""
    count, uploads, loads = (60, 10, 1) if quick() else (1000, 100, 3)
    photo = photo_jpeg(data.astronaut(), 2048, 1536, 90, grain=10)
    files = [with_comment(photo, n) for n in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "upload"
        folder.mkdir()
        for n in range(uploads):
            (folder / f"photo-{n:03}.jpg").write_bytes(with_comment(photo, 10_000 + n))
        paths = sorted(folder.iterdir())
        # Colours only: the thumbnails are what is measured, not the classifier.
        process, base = start_server(Path(tmp) / "data", BITIMAGE_ANALYSERS="colours")
        try:
            headers = account(base, "library@example.com")
            fill(base, headers, files)
            thumbnails_ready(base, headers, count)
            token = headers["Authorization"].split()[1]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox"]
                )
                screens = sorted(first_screen(browser, base, token) for _ in range(loads))
                page_token = account(base, "page@example.com")["Authorization"].split()[1]
                page_seconds = browser_upload(browser, base, page_token, paths)
                browser.close()
            cli_token = account(base, "cli@example.com")["Authorization"].split()[1]
            cli_seconds = cli_upload(base, cli_token, folder)
        finally:
            stop_server(process)
    ms, transferred, tiles = screens[0]
    page_rate, cli_rate = uploads / page_seconds, uploads / cli_seconds
    print(f"{count} photos of {len(photo) / 1e6:.2f} MB in the account; Chromium 1280x900")
    print(
        table(
            [
                ["first screen of thumbnails", f"{ms:.0f} ms", f"{tiles} tiles"],
                ["bytes transferred by then", f"{transferred / 1e6:.2f} MB", ""],
                [f"page upload of {uploads}", f"{page_rate:.1f} images/s", f"{page_seconds:.1f} s"],
                [f"CLI upload of {uploads}", f"{cli_rate:.1f} images/s", f"{cli_seconds:.1f} s"],
                ["page / CLI", f"{page_rate / cli_rate:.0%}", "target >= 70%"],
            ],
            ["measure", "value", "note"],
        )
    )


if __name__ == "__main__":
    main()
