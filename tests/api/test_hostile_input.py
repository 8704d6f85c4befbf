"""Hostile input: oversized JSON bodies, control characters, input-caused database errors, 405."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from bitimage.bootstrap import Container
from bitimage.config import MIB
from bitimage.search.ports import SearchQuery
from tests.api.test_errors import BAD, assert_error
from tests.servers import clean_env, running
from tests.support import PASSWORD, auth, make_jpeg, md5

TOO_LARGE = "Resource size exceeds upload limit"
LOGIN = {"email": "someone@example.com", "password": PASSWORD}

# One of each kind: C0 and C1 controls, DEL, zero-width and bidi format characters, a BOM, a
# soft hyphen, an astral tag character.
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\u200b", "\u202e", "\ufeff", "\xad"]
CONTROLS.append("\U000e0041")


@pytest.fixture
def headers(client: TestClient) -> dict[str, str]:
    return auth(client, "owner@example.com")


class TestJsonBodyLimit:
    def test_declared_length_over_the_limit(self, client: TestClient) -> None:
        body = b'{"email": "a@b.co", "password": "' + b"x" * MIB + b'"}'
        answer = client.post(
            "/cas/loginSubmit", content=body, headers={"content-type": "application/json"}
        )
        assert_error(answer, 413, TOO_LARGE, "1.0 MiB")
        assert answer.headers["connection"] == "close"

    def test_streamed_body_over_the_limit(self, client: TestClient) -> None:
        def chunks() -> Iterator[bytes]:
            yield b'{"email": "a@b.co", "password": "'
            for _ in range(20):
                yield b"x" * (64 * 1024)
            yield b'"}'

        answer = client.post(
            "/cas/loginSubmit", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in answer.request.headers  # really chunked
        assert_error(answer, 413, TOO_LARGE, "1.0 MiB")
        assert answer.headers["connection"] == "close"

    def test_a_body_under_the_limit_is_read(self, client: TestClient) -> None:
        answer = client.post("/cas/loginSubmit", json={**LOGIN, "password": "x" * 1000})
        assert_error(answer, 401, "Authorization failed")

    def test_storage_uploads_have_their_own_limit(
        self, client: TestClient, headers: dict[str, str]
    ) -> None:
        answer = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
        url = answer.json()["image_upload_urls"][0]["url"]
        big = make_jpeg(1200, 1200, seed=3, fmt="PNG") + b"\0" * (2 * MIB)
        assert len(big) > MIB
        assert client.put(url, content=big).status_code == 200


def test_real_server_refuses_a_huge_declared_body_without_reading_it(tmp_path: Path) -> None:
    env = clean_env(BITIMAGE_DATA_DIR=str(tmp_path / "data"), BITIMAGE_RUN_WORKER="false")
    with (
        running(["serve"], env, tmp_path / "server.log") as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn,
    ):
        # 400 MiB announced, none of it sent: an answer can only come before reading it.
        conn.sendall(
            b"POST /cas/loginSubmit HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 419430400\r\n\r\n"
        )
        answer = b""
        while chunk := conn.recv(65536):  # the server closes the connection after it
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer
    assert b"connection: close" in head.lower()
    assert b"Resource size exceeds upload limit" in body


class TestControlCharacters:
    @pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
    @pytest.mark.parametrize("field", ["name", "tag", "content_label", "text"])
    def test_search_filters(
        self, client: TestClient, headers: dict[str, str], field: str, char: str
    ) -> None:
        value = quote(f"ab{char}cd")
        for scope, auth_headers in (("public", {}), ("private", headers)):
            answer = client.get(
                f"/api/v1/images/{scope}/summary?{field}={value}", headers=auth_headers
            )
            assert_error(answer, 400, BAD, field)
            # The rule in words, not the pattern's character table.
            message = answer.json()["message"]
            assert "control or format characters" in message
            assert "\\u0000" not in message

    @pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
    def test_notify_names_and_tags(
        self, client: TestClient, headers: dict[str, str], char: str
    ) -> None:
        image = {"id": str(uuid.uuid4()), "name": "ok", "hash": md5(b"x"), "tags": []}
        bad_name = {**image, "name": f"holiday{char}.png"}
        bad_tag = {**image, "tags": [{"name": f"sea{char}"}]}
        for bad in (bad_name, bad_tag):
            answer = client.post("/api/v1/images", headers=headers, json={"images": [bad]})
            assert_error(answer, 400, BAD, "name")
            assert "control or format characters" in answer.json()["message"]

    def test_plain_unicode_is_fine(self, client: TestClient, headers: dict[str, str]) -> None:
        answer = client.get(f"/api/v1/images/public/summary?name={quote('café 東京 ✓')}")
        assert answer.status_code == 200, answer.text
        blank = {"id": str(uuid.uuid4()), "name": " \u3000 ", "hash": md5(b"x")}
        answer = client.post("/api/v1/images", headers=headers, json={"images": [blank]})
        assert_error(answer, 400, BAD, "name")


def test_a_database_error_caused_by_input_is_not_an_outage(
    client: TestClient,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_search(session: Session, query: SearchQuery) -> object:
        # A statement the database refuses (SQLite: OperationalError; PostgreSQL: ProgrammingError)
        return session.execute(text("SELECT no_such_column FROM images")).all()

    monkeypatch.setattr(container.search, "summaries", broken_search)
    with caplog.at_level(logging.ERROR, logger="bitimage"):
        answer = client.get("/api/v1/images/public/summary")
    assert_error(answer, 500, "Internal server error")
    assert "retry-after" not in answer.headers
    assert "no_such_column" not in answer.text
    assert "unavailable" not in caplog.text
    assert "(a bug)" in caplog.text


def test_405_carries_allow(client: TestClient) -> None:
    answer = client.put("/api/v1/images/upload_urls")
    assert_error(answer, 405, "Method not allowed", "PUT")
    assert answer.headers["allow"] == "GET"
    answer = client.get("/cas/loginSubmit")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    # Two routes share the path: Allow names the methods of both.
    answer = client.get("/api/v1/images")
    assert_error(answer, 405, "Method not allowed")
    assert answer.headers["allow"] == "DELETE, POST"
