"""With S3 the browser PUTs to the bucket itself: the CSP names it, `bitimage s3-cors` opens it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from typer.testing import CliRunner

from bitimage.cli.main import app
from tests.browser.conftest import open_visit
from tests.browser.test_web_app import sign_up, tile
from tests.s3server import moto_s3
from tests.servers import clean_env, free_port, running


@dataclass
class S3Site:
    """A server on moto's S3 (another origin than the server's) and its settings."""

    base: str
    endpoint: str
    data: Path
    settings: dict[str, str]

    def cors(self, *origins: str) -> None:
        """Run `bitimage s3-cors` (with --origin for each of `origins`)."""
        args = ["s3-cors", "--data-dir", str(self.data)]
        for origin in origins:
            args += ["--origin", origin]
        done = CliRunner().invoke(app, args, env=self.settings)
        assert done.exit_code == 0, done.output


@pytest.fixture(scope="module")
def s3_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Site]:
    data = tmp_path_factory.mktemp("s3web")
    with moto_s3(["web-photos", "web-staging"]) as endpoint:
        port = free_port()
        settings = {
            "BITIMAGE_STORAGE_URL": "s3://web-photos",
            "BITIMAGE_S3_STAGING_BUCKET": "web-staging",
            "BITIMAGE_S3_ENDPOINT_URL": endpoint,
            "BITIMAGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        env = clean_env(BITIMAGE_ANALYSERS="colours", **settings)
        args = ["serve", "--data-dir", str(data)]
        with running(args, env, data / "server.log", port=port) as server:
            yield S3Site(server.base, endpoint, data, settings)


def upload(page: Page, path: Path) -> None:
    """Send one file through the page and wait for its final state."""
    page.get_by_label("Choose images").set_input_files([str(path)])
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".upload .summary")).to_contain_text("0 to go")


def test_the_browser_uploads_straight_to_s3_once_its_origin_is_allowed(
    browser: Browser, s3_site: S3Site, files: dict[str, Path]
) -> None:
    visit = open_visit(browser, s3_site.base)
    page = visit.page
    sign_up(page, "s3@example.com")
    # A rule for another site only (moto, unlike S3, lets every origin in without a rule).
    s3_site.cors("https://elsewhere.example")
    upload(page, files["coffee.jpg"])
    expect(page.locator(".uploads li[data-state=refused]")).to_contain_text("interrupted")

    s3_site.cors()  # the origin of BITIMAGE_PUBLIC_URL: this page's
    upload(page, files["coffee.jpg"])
    expect(page.locator(".uploads li[data-state=done]")).to_contain_text("coffee.jpg")
    expect(tile(page, "coffee.jpg")).to_be_visible()
    expect(page.locator(".tile[data-ready=yes]")).to_have_count(1, timeout=60_000)
    store = urlsplit(s3_site.endpoint).netloc
    went_to_store = [url for url in visit.foreign_requests() if urlsplit(url).netloc == store]
    assert went_to_store, "the PUT and the thumbnail go to S3, not through the server"
    assert [url for url in visit.foreign_requests() if url not in went_to_store] == []
    assert [e for e in visit.errors if "Content Security Policy" in e] == []
    visit.context.close()
