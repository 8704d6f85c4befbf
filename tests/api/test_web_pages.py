"""The web application's files: served from the package, with their CSP, and nothing from a CDN.

No database is touched by these routes: one SQLite app is enough.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bitimage.app import create_app
from bitimage.web.router import STATIC
from tests.support import app_client, make_container, make_settings


@pytest.fixture
def web(tmp_path: Path) -> Iterator[TestClient]:
    container = make_container(make_settings(tmp_path / "data"))
    with app_client(container) as client:
        yield client
    container.close()


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_pages_have_a_policy_and_no_inline_script(web: TestClient, path: str) -> None:
    answer = web.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    # Every <script> names a file of this server; none carries code of its own.
    for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", answer.text, re.S):
        assert re.search(r'src="/static/[^"]+"', attributes), attributes
        assert body.strip() == ""
    assert web.head(path).status_code == 200


def test_the_local_store_is_this_server(web: TestClient) -> None:
    policy = web.get("/").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["connect-src"] == "'self' http://127.0.0.1:8000"  # BITIMAGE_PUBLIC_URL's
    assert directives["style-src"] == "'self'"


def test_every_referenced_file_is_served(web: TestClient) -> None:
    pages = [web.get(p).text for p in ("/", "/docs", "/redoc")]
    referenced = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', "".join(pages)))
    referenced.add("/static/md5-worker.js")  # started by hashing.js
    assert len(referenced) > 10
    for path in referenced:
        answer = web.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert web.get("/static/app.js").headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize(
    "path", ["/static/../router.py", "/static/%2e%2e/router.py", "/static/nope.js", "/static/"]
)
def test_nothing_outside_the_static_folder(web: TestClient, path: str) -> None:
    answer = web.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"] == "Resource not found"


def test_no_asset_loads_from_another_origin() -> None:
    # Absolute URLs in what the browser runs: none may be fetched (links in comments and
    # licences are text). The page's own code has none at all.
    for path in STATIC.glob("*.js"):
        assert not re.search(r"https?://", path.read_text()), path
    redoc = (STATIC / "vendor/docs/redoc/redoc.standalone.js").read_text()
    assert "cdn.redoc.ly" not in redoc
    assert "fonts.googleapis" not in redoc


def test_the_web_routes_are_not_part_of_the_api_schema(web: TestClient) -> None:
    paths = web.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith(("/static", "/docs", "/redoc"))]


def test_a_cas_alone_serves_its_docs_but_no_page(tmp_path: Path) -> None:
    container = make_container(make_settings(tmp_path / "data"))
    with TestClient(create_app(container, api=False)) as cas:
        assert cas.get("/docs").status_code == 200
        bundle = cas.get("/static/vendor/docs/swagger-ui/swagger-ui-bundle.js")
        assert bundle.status_code == 200
        assert cas.get("/").status_code == 404
    container.close()
