"""A real `bitimage serve` and Debian's Chromium driven by Playwright (no `playwright install`)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    sync_playwright,
)
from skimage import data as photos

from tests.servers import clean_env, running

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
# Written for a reviewer (CI keeps the folder as an artifact); gitignored.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A served Bit-image with the embedded worker (labels, thumbnails) on a free port."""
    data = tmp_path_factory.mktemp("web")
    env = clean_env(BITIMAGE_ANALYSERS="classifier,colours,metadata")
    with running(["serve", "--data-dir", str(data)], env, data / "server.log") as server:
        yield server.base


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """A browser context on the server, recording every request and every console error."""

    base: str
    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requests that left for another origin than the server's."""
        origin = urlsplit(self.base)
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob")
            and (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)
        ]


def open_visit(browser: Browser, base: str) -> Visit:
    """A fresh context (no session) with axe-core injected into every document."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
    # An init script is injected by the browser, not by the page: the page's CSP still holds.
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    visit = Visit(base, context, page)

    def on_request(request: Request) -> None:
        visit.requests.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            visit.errors.append(message.text)

    context.on("request", on_request)
    page.on("console", on_console)
    return visit


@pytest.fixture
def visit(browser: Browser, base: str) -> Iterator[Visit]:
    """A logged-out visitor; at the end, no request went elsewhere and no CSP was violated."""
    current = open_visit(browser, base)
    yield current
    current.context.close()
    assert current.foreign_requests() == []
    assert [e for e in current.errors if "Content Security Policy" in e] == []


def jpeg(pixels: np.ndarray) -> bytes:
    """A photo as JPEG bytes."""
    out = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(out, "JPEG", quality=88)
    return out.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three photos (a cat, a coffee, an astronaut) and a PDF, as files to pick."""
    folder = tmp_path_factory.mktemp("picks")
    made = {
        "chelsea.jpg": jpeg(photos.chelsea()),
        "coffee.jpg": jpeg(photos.coffee()),
        "astronaut.jpg": jpeg(photos.astronaut()),
        "notes.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n",
    }
    for name, content in made.items():
        (folder / name).write_bytes(content)
    return {name: folder / name for name in made}
