"""Tiles say when analysis has not run yet: a server whose worker is off keeps images pending."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect
from skimage import data as photos

from tests.browser.conftest import jpeg, open_visit
from tests.servers import clean_env, running


@pytest.fixture(scope="module")
def idle_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with no worker: uploads stay pending (no labels, no thumbnail)."""
    data = tmp_path_factory.mktemp("idle")
    env = clean_env(BITIMAGE_RUN_WORKER="false")
    with running(["serve", "--data-dir", str(data)], env, data / "server.log") as server:
        yield server.base


def test_a_pending_image_says_so_on_its_tile(browser: Browser, idle_base: str) -> None:
    credentials = {"email": "waiting@example.com", "password": "correct horse battery"}
    with httpx.Client(base_url=idle_base) as http:
        http.post("/cas/signup", json=credentials).raise_for_status()
        token = http.post("/cas/loginSubmit", json=credentials).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        http.post("/api/v1/users", headers=headers).raise_for_status()
        (url,) = http.get(
            "/api/v1/images/upload_urls", params={"image_count": 1}, headers=headers
        ).json()["image_upload_urls"]
        content = jpeg(photos.coffee())
        httpx.put(url["url"], content=content).raise_for_status()
        image = {
            "id": url["image_id"],
            "name": "waiting.jpg",
            "hash": hashlib.md5(content, usedforsecurity=False).hexdigest(),
        }
        http.post("/api/v1/images", json={"images": [image]}, headers=headers).raise_for_status()
    visit = open_visit(browser, idle_base)
    session = json.dumps(json.dumps({"token": token}))  # a JS string literal of the JSON
    visit.context.add_init_script(f"localStorage.setItem('bitimage.session', {session})")
    visit.page.goto("/")
    tile = visit.page.locator(".tile", has=visit.page.get_by_role("img", name="waiting.jpg"))
    expect(tile).to_have_attribute("data-status", "pending")
    expect(tile).to_contain_text("Analysing…")
    assert visit.foreign_requests() == []
    visit.context.close()
