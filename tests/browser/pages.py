"""What every page passes: axe-core, no sideways scroll at 390 px, screenshots at two widths."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.browser.conftest import SCREENSHOTS, WIDTHS

SEVERE = ("serious", "critical")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    result: dict[str, Any] = page.evaluate("() => axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in SEVERE
    ]


def check_page(page: Page, name: str) -> None:
    """In light and dark: no severe accessibility violation, fits 390 px, two screenshots."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert axe_violations(page) == [], f"{name} ({scheme})"
        shoot(page, name if scheme == "light" else f"{name}-dark", fits=True)
    page.emulate_media(color_scheme="light")


def shoot(page: Page, name: str, fits: bool = False) -> None:
    """Screenshots at 1280 and 390 px wide; with `fits`, no sideways scrolling at either."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert not fits or overflow <= 0, f"{name} scrolls sideways at {width} px"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
