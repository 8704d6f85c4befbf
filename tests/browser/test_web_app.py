"""A person uses Bit-image through its page, in Chromium: sign up, upload, search, edit, delete."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Visit, open_visit
from tests.browser.pages import check_page, shoot

LABEL_WAIT_MS = 120_000  # the embedded worker labels the photos (model load included)


PASSWORD = "correct horse battery"


def sign_up(page: Page, email: str) -> None:
    """Sign up through the form; the library shows."""
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Your library")).to_be_visible()


def tile(page: Page, name: str) -> Locator:
    """The thumbnail of an image, by its alt text (its name)."""
    return page.get_by_role("list", name=re.compile("images")).get_by_role("img", name=name)


def upload(page: Page, paths: list[Path], tags: str = "") -> None:
    """Pick files, set tags, press Upload and wait until every file has a final state."""
    page.get_by_label("Choose images").set_input_files([str(p) for p in paths])
    page.get_by_label("Tags").first.fill(tags)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".uploads li")).to_have_count(len(paths))
    final = ("done", "refused", "skipped")
    pending = ".uploads li" + "".join(f":not([data-state={state}])" for state in final)
    expect(page.locator(pending)).to_have_count(0, timeout=60_000)


def test_a_person_signs_up_uploads_searches_edits_and_deletes(
    browser: Browser, visit: Visit, files: dict[str, Path]
) -> None:
    page = visit.page
    page.goto("/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    check_page(page, "login")
    sign_up(page, "ada@example.com")

    photos = [files["chelsea.jpg"], files["coffee.jpg"], files["astronaut.jpg"]]
    upload(page, [*photos, files["notes.pdf"]], tags="holiday")
    refused = page.locator(".uploads li[data-state=refused]")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("notes.pdf")
    expect(refused).to_contain_text(re.compile(r"Refused: .*(format|image|PDF|support)", re.I))
    expect(page.locator(".uploads li[data-state=done]")).to_have_count(3)
    for photo in photos:
        expect(tile(page, photo.name)).to_be_visible()
    expect(tile(page, "notes.pdf")).to_have_count(0)
    # Analysis and thumbnails finish in the background; the tiles follow.
    expect(page.locator(".tile[data-status=done][data-ready=yes]")).to_have_count(
        3, timeout=LABEL_WAIT_MS
    )
    placeholder = tile(page, "chelsea.jpg").get_attribute("data-placeholder")
    assert placeholder == "painted"
    check_page(page, "library")

    # The same photo again is skipped: its MD5 is already in the account.
    upload(page, [files["chelsea.jpg"]])
    expect(page.locator(".uploads li[data-state=skipped]")).to_contain_text("already")

    # Search by content label: the cat, not the coffee; the URL keeps the search.
    page.get_by_text("Filters").click()
    page.get_by_label("Content label").fill("cat")
    expect(tile(page, "coffee.jpg")).to_have_count(0)
    expect(tile(page, "chelsea.jpg")).to_be_visible()
    expect(page).to_have_url(re.compile(r"label=cat"))
    bookmarked = page.url
    page.goto(f"{visit.base}/")
    page.goto(bookmarked)
    expect(page.get_by_label("Content label")).to_have_value("cat")
    expect(tile(page, "chelsea.jpg")).to_be_visible()
    expect(tile(page, "coffee.jpg")).to_have_count(0)
    check_page(page, "search")
    # A minimum confidence above the cat label's leaves nothing; a low one keeps the cat.
    page.get_by_label("Minimum confidence").fill("0.99")
    expect(page.get_by_text("No image matches this search.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"conf=0\.99"))
    page.get_by_label("Minimum confidence").fill("0.1")
    expect(tile(page, "chelsea.jpg")).to_be_visible()

    # The one search box: fuzzy, as you type.
    page.goto(f"{visit.base}/#/")
    page.get_by_role("searchbox", name="Search").fill("cofee")
    expect(tile(page, "coffee.jpg")).to_be_visible()
    expect(tile(page, "astronaut.jpg")).to_have_count(0)

    # Nothing is public yet.
    stranger = open_visit(browser, visit.base)
    stranger.page.goto("/#/public")
    expect(stranger.page.get_by_text("No public image yet.")).to_be_visible()

    # The image page: facts and labels; edit tags and privacy in place.
    page.goto(f"{visit.base}/#/")
    tile(page, "chelsea.jpg").click()
    expect(page.get_by_role("heading", name="chelsea.jpg")).to_be_visible()
    expect(page.get_by_role("heading", name="Content labels")).to_be_visible()
    check_page(page, "image")
    page.get_by_label("Tags").fill("pets, tabby")
    page.get_by_label("Public").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".facts")).to_contain_text("pets, tabby")
    expect(page.locator(".facts")).to_contain_text("Public")

    stranger.page.reload()
    expect(tile(stranger.page, "chelsea.jpg")).to_be_visible()
    expect(tile(stranger.page, "coffee.jpg")).to_have_count(0)
    check_page(stranger.page, "public")
    stranger.page.get_by_text("Filters").click()
    stranger.page.get_by_label("Tag").fill("tabbby")  # a typo: fuzzy
    expect(tile(stranger.page, "chelsea.jpg")).to_be_visible()
    stranger.page.get_by_label("Tag").fill("holiday")  # the old tag, replaced by the edit
    expect(stranger.page.get_by_text("No image matches this search.")).to_be_visible()
    stranger.page.goto("/#/public")
    tile(stranger.page, "chelsea.jpg").click()
    expect(stranger.page.get_by_role("heading", name="chelsea.jpg")).to_be_visible()
    expect(stranger.page.get_by_role("button", name="Delete")).to_have_count(0)
    assert stranger.foreign_requests() == []
    stranger.context.close()

    # Keyboard: previous and next with the arrow keys, in the library's order.
    page.goto(f"{visit.base}/#/")
    expect(page.locator(".tile")).to_have_count(3)
    order = page.locator(".tile img").evaluate_all("(imgs) => imgs.map((img) => img.alt)")
    tile(page, order[0]).click()
    expect(page.get_by_role("heading", name=order[0])).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("heading", name=order[1])).to_be_visible()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("heading", name=order[0])).to_be_visible()
    page.goto(f"{visit.base}/#/")
    tile(page, "coffee.jpg").click()
    expect(page.get_by_role("heading", name="coffee.jpg")).to_be_visible()

    # Delete, with a confirmation.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Your library")).to_be_visible()
    expect(tile(page, "chelsea.jpg")).to_be_visible()
    expect(tile(page, "coffee.jpg")).to_have_count(0)

    # A reload keeps the session; the account page; logging out forgets it.
    page.reload()
    expect(page.get_by_role("heading", name="Your library")).to_be_visible()
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_text("ada@example.com")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("2 (limit")
    check_page(page, "account")
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()

    # Logging in again finds the library as it was.
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(tile(page, "chelsea.jpg")).to_be_visible()


def test_the_account_is_deleted_after_typing_the_confirmation(visit: Visit) -> None:
    page = visit.page
    sign_up(page, "leaving@example.com")
    page.get_by_role("link", name="Account").click()
    delete = page.get_by_role("button", name="Delete account")
    expect(delete).to_be_disabled()
    page.get_by_label(re.compile("Type DELETE")).fill("DELETE")
    delete.click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    # The sign-in went with the account: logging in again is refused.
    again = httpx.post(
        f"{visit.base}/cas/loginSubmit",
        json={"email": "leaving@example.com", "password": PASSWORD},
    )
    assert again.status_code == 401, again.text


def test_files_dropped_on_the_page_are_uploaded(visit: Visit, files: dict[str, Path]) -> None:
    page = visit.page
    sign_up(page, "dropper@example.com")
    content = base64.b64encode(files["coffee.jpg"].read_bytes()).decode()
    # A drop as the browser makes it: a DataTransfer holding a File.
    page.locator(".drop").evaluate(
        """(zone, content) => {
            const bytes = Uint8Array.from(atob(content), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.jpg", { type: "image/jpeg" }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
        }""",
        content,
    )
    expect(page.get_by_text("1 file ready to upload.")).to_be_visible()
    page.get_by_label("Public").check()
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".uploads li[data-state=done]")).to_contain_text("dropped.jpg")
    expect(tile(page, "dropped.jpg")).to_be_visible()
    public = httpx.get(f"{visit.base}/api/v1/images/public/summary").json()["images"]
    assert "dropped.jpg" in [image["name"] for image in public]


def pattern(size: int) -> bytes:
    """The bytes the page builds for the MD5 check, built the same way here."""
    return bytes((i * 31 + (i >> 8)) & 255 for i in range(size))


def test_the_md5_worker_agrees_with_hashlib(visit: Visit) -> None:
    page = visit.page
    page.goto("/")
    # Sizes around the worker's 2 MiB slices, and an empty file.
    sizes = [0, 1, 2 * 1024 * 1024, 5 * 1024 * 1024 + 7]
    found = page.evaluate(
        """async (sizes) => {
            const { md5 } = await import("/static/hashing.js");
            const out = [];
            for (const size of sizes) {
                const bytes = new Uint8Array(size);
                for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 255;
                out.push(await md5(new Blob([bytes])));
            }
            return out;
        }""",
        sizes,
    )
    expected = [hashlib.md5(pattern(size), usedforsecurity=False).hexdigest() for size in sizes]
    assert found == expected


def test_the_api_docs_work_offline(visit: Visit) -> None:
    page = visit.page
    page.goto("/docs")
    expect(page.get_by_text("Get pre-signed upload URLs").first).to_be_visible()
    # Swagger UI's and Redoc's own markup is theirs: screenshots, not the axe check.
    shoot(page, "docs")
    page.goto("/redoc")
    expect(page.get_by_role("heading", name="Get pre-signed upload URLs")).to_be_visible()
    shoot(page, "redoc")


def test_pages_carry_a_strict_content_security_policy(visit: Visit) -> None:
    answer = httpx.get(f"{visit.base}/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy.split("style-src")[0]
    assert "connect-src 'self'" in policy
    assert "<script>" not in answer.text  # no inline script: every script is a file
    assert httpx.get(f"{visit.base}/static/%2e%2e/app.py").status_code == 404
    assert (
        httpx.get(f"{visit.base}/static/app.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
