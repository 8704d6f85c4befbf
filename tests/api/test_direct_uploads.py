"""Storage PUTs served from the ASGI entry (storage/direct.py) answer as the route does.

A well-formed PUT goes straight to the route's function; an unusual query goes through the
framework, which answers it; errors of either way come through the app's exception handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from bitimage.bootstrap import Container
from bitimage.storage import direct, router
from tests.support import auth, make_jpeg

JPEG = make_jpeg(seed=11)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Keys that the direct path handed to put_object."""
    seen: list[str] = []
    original = router.put_object

    async def counting(key: str, *args: Any) -> Any:
        seen.append(key)
        return await original(key, *args)

    monkeypatch.setattr(direct, "put_object", counting)
    return seen


def _upload_url(client: TestClient) -> str:
    headers = auth(client, "direct@example.com")
    answer = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["image_upload_urls"][0]["url"]
    return url


def _with_query(url: str, change: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{urlencode(change(parse_qsl(parts.query)))}"


def test_a_well_formed_put_is_served_directly(client: TestClient, calls: list[str]) -> None:
    answer = client.put(_upload_url(client), content=JPEG)
    assert answer.status_code == 200, answer.text
    assert len(calls) == 1
    assert calls[0].startswith("staging/")


@pytest.mark.parametrize(
    "change",
    [
        lambda q: [(k, "soon" if k == "expires" else v) for k, v in q],
        lambda q: [*q, ("expires", "1")],
        lambda q: [(k, v) for k, v in q if k != "signature"],
    ],
    ids=["expires-not-an-integer", "expires-twice", "no-signature"],
)
def test_an_unusual_query_goes_through_the_framework(
    client: TestClient, calls: list[str], change: Callable[[Any], Any]
) -> None:
    answer = client.put(_with_query(_upload_url(client), change), content=JPEG)
    assert calls == []
    if answer.status_code == 400:  # the framework's validation, in the API's error body
        assert set(answer.json()) == {"error", "message", "detail"}
    else:  # a repeated parameter: the framework takes one of them, and the signature fails
        assert answer.status_code == 403, answer.text


def test_a_refusal_has_the_error_body_and_closes(client: TestClient, calls: list[str]) -> None:
    url = _with_query(_upload_url(client), lambda q: [(k, "0" * 64 if k == "signature" else v)
                                                      for k, v in q])  # fmt: skip
    answer = client.put(url, content=JPEG)
    assert calls  # served directly...
    assert answer.status_code == 403  # ...and answered by the app's own handler
    assert answer.headers["connection"] == "close"
    assert set(answer.json()) == {"error", "message", "detail"}


def test_an_unexpected_failure_is_a_500_without_a_trace(
    container: Container, client: TestClient, calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _upload_url(client)
    store = container.local_store
    assert store is not None

    def broken(key: str) -> Any:
        raise RuntimeError(f"/secret/path/{key}")

    monkeypatch.setattr(store, "open_writer", broken)
    answer = client.put(url, content=JPEG)
    assert calls
    assert answer.status_code == 500
    assert "secret" not in answer.text
    assert "Traceback" not in answer.text
    assert set(answer.json()) == {"error", "message", "detail"}
