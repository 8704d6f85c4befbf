"""A refused storage PUT closes the connection instead of draining the body (issue 11, defect 8).

Against a real `bitimage serve` (uvicorn) over a raw socket: after the 413 the server must
close the connection soon, having read none (or only the first piece) of the body.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.servers import clean_env, running
from tests.support import PASSWORD

LIMIT = 1000


@pytest.fixture(scope="module")
def upload_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An upload URL of a fresh user on a server whose image limit is 1000 bytes."""
    data = tmp_path_factory.mktemp("refusals")
    env = clean_env(BITIMAGE_MAX_IMAGE_BYTES=str(LIMIT))
    with running(["serve", "--data-dir", str(data)], env, data / "server.log") as server:
        http = httpx.Client(base_url=server.base)
        account = {"email": "closer@example.com", "password": PASSWORD}
        assert http.post("/cas/signup", json=account).status_code == 201
        token = http.post("/cas/loginSubmit", json=account).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert http.post("/api/v1/users", headers=headers).status_code == 201
        answer = http.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
        http.close()
        yield answer.json()["image_upload_urls"][0]["url"]


def _connect(url: str, head: str) -> socket.socket:
    """A connection that has sent a PUT's request line and headers, no body yet."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5)
    request = f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}\r\n"
    sock.sendall(request.encode())
    return sock


def _read_answer(sock: socket.socket) -> tuple[str, dict[str, str]]:
    """The status line and headers of one response (its body read and dropped)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed before answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", "0")):
        body += sock.recv(65536)
    return lines[0], headers


def _closed_soon(sock: socket.socket) -> bool:
    """True if the server closes the connection within 2 s (its keep-alive timeout is 5 s)."""
    sock.settimeout(2)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _bytes_taken(sock: socket.socket, offered: int) -> int:
    """How much of `offered` more body bytes the server took before the connection broke."""
    piece, sent = b"z" * 65536, 0
    try:
        while sent < offered:
            sock.sendall(piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def test_a_declared_oversized_body_is_refused_and_the_connection_closed(upload_url: str) -> None:
    sock = _connect(upload_url, "Content-Length: 104857600\r\n")  # 100 MiB announced
    with sock:
        status, headers = _read_answer(sock)
        assert " 413 " in status
        assert headers["connection"] == "close"
        assert _closed_soon(sock), "the server kept the connection open to drain the body"
        # Even a client that goes on sending is cut off long before the announced 100 MiB.
        assert _bytes_taken(sock, 32 * 1024 * 1024) < 32 * 1024 * 1024


def test_a_streamed_oversized_body_is_refused_and_the_connection_closed(upload_url: str) -> None:
    sock = _connect(upload_url, "Transfer-Encoding: chunked\r\n")
    with sock:
        piece = b"x" * (LIMIT + 500)
        sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")  # more chunks "follow"
        status, headers = _read_answer(sock)
        assert " 413 " in status
        assert headers["connection"] == "close"
        assert _closed_soon(sock), "the server kept the connection open to drain the body"
