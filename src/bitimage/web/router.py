"""The web application's routes: its page, its static files and the offline API docs."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from bitimage.errors import NotFound

STATIC = Path(__file__).parent / "static"

# The page and the docs send these on every answer; CSP goes on the documents (and workers).
_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # signed URLs and tokens never leave in a Referer
    "Cache-Control": "no-cache",  # revalidated (ETag): a new release shows at the next load
}
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css"}


def app_policy(store_origins: Sequence[str]) -> str:
    """The page's Content-Security-Policy: everything from here, pictures and PUTs to the store."""
    extra = "".join(f" {origin}" for origin in store_origins)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "worker-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob:{extra}",
            f"connect-src 'self'{extra}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


# Swagger UI and Redoc set style attributes and <style> elements (styled-components) at run
# time; scripts stay 'self' only, which is what keeps an injected script out.
DOCS_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "worker-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def _page(name: str, policy: str) -> HTMLResponse:
    html = (STATIC / name).read_text(encoding="utf-8")
    headers = {**_COMMON_HEADERS, "Content-Security-Policy": policy}
    return HTMLResponse(html, headers=headers)


def _asset(path: str, policy: str) -> FileResponse:
    target = (STATIC / path).resolve()
    # Only files inside the package's static folder: no path climbs out of it.
    if not target.is_relative_to(STATIC.resolve()) or not target.is_file():
        raise NotFound(f"No file /static/{path}", "See /")
    media = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    headers = {**_COMMON_HEADERS, "Content-Security-Policy": policy}
    return FileResponse(target, media_type=media or "application/octet-stream", headers=headers)


def web_router(store_origins: Callable[[], Sequence[str]], *, app_page: bool) -> APIRouter:
    """/docs, /redoc and /static/...; with `app_page`, `/` too (the API is served alongside).

    `store_origins` names where the store's signed URLs point; it is asked once, on first use.
    """
    router = APIRouter(include_in_schema=False)
    policy = cache(lambda: app_policy(store_origins()))

    @router.api_route("/docs", methods=["GET", "HEAD"])
    def docs() -> HTMLResponse:
        """Swagger UI on /openapi.json."""
        return _page("docs/swagger.html", DOCS_POLICY)

    @router.api_route("/redoc", methods=["GET", "HEAD"])
    def redoc() -> HTMLResponse:
        """Redoc on /openapi.json."""
        return _page("docs/redoc.html", DOCS_POLICY)

    @router.api_route("/static/{path:path}", methods=["GET", "HEAD"])
    def static(path: str) -> FileResponse:
        """A file of the web application or of the docs (scripts, styles, vendored libraries)."""
        docs_file = path.startswith(("docs/", "vendor/docs/"))
        return _asset(path, DOCS_POLICY if docs_file else policy())

    if app_page:

        @router.api_route("/", methods=["GET", "HEAD"])
        def index() -> HTMLResponse:
            """The single page of the web application."""
            return _page("index.html", policy())

    return router
