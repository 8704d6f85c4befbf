"""The uploader's retries, through a fault-injecting reverse proxy in front of a real server.

The proxy (http.server, its own port) fails the first attempt of some requests: PUTs with a 500
or a connection reset, notifies with 503 + Retry-After, 429 + Retry-After, or by passing the
notify on and dropping the answer (the server confirmed, the client never heard). The server's
public URL is the proxy's, so the signed upload URLs go through it too. Each upload must still
complete exactly once.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from bitimage import errors as server_errors
from bitimage.client import ERRORS, Client, RetryPolicy
from bitimage.client.errors import ServerError, error_from_response
from tests.servers import clean_env, free_port, running
from tests.support import PASSWORD, make_jpeg, md5

FAST = RetryPolicy(attempts=4, backoff=0.02, max_delay=2.0)


class FaultProxy(ThreadingHTTPServer):
    """Forwards to `upstream`; `plan` maps a request kind to the faults of its first attempts."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = httpx.Client(base_url=upstream, timeout=30)
        self.lock = threading.Lock()
        self.plan: dict[str, list[str | None]] = {}
        self.assigned: dict[str, str | None] = {}
        self.attempts: Counter[str] = Counter()  # per request identity
        self.distinct: Counter[str] = Counter()  # per kind
        self.injected: Counter[str] = Counter()
        self.log: list[tuple[float, str, str]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def arm(self, plan: dict[str, list[str | None]]) -> None:
        """Faults by kind: the n-th new request of a kind gets plan[kind][n] on its first try
        (on every try when the fault starts with "always-")."""
        with self.lock:
            self.plan = plan
            self.distinct.clear()
            self.injected.clear()
            self.log.clear()

    def fault_for(self, kind: str, identity: str) -> str | None:
        """The fault to inject for this attempt of this request, if any."""
        with self.lock:
            self.attempts[identity] += 1
            first = self.attempts[identity] == 1
            if first:
                self.distinct[kind] += 1
                plan = self.plan.get(kind, [])
                index = self.distinct[kind] - 1
                self.assigned[identity] = plan[index] if index < len(plan) else None
            fault = self.assigned.get(identity)
            if fault and fault.startswith("always-"):
                fault = fault.removeprefix("always-")
            elif not first:
                fault = None
            if fault:
                self.injected[f"{kind}:{fault}"] += 1
            self.log.append((time.monotonic(), identity, fault or "ok"))
            return fault

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Resets are on purpose: no tracebacks."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _kind(self) -> str:
        path = self.path.split("?")[0]
        if self.command == "PUT" and path.startswith("/storage/"):
            return "put"
        if self.command == "POST" and path == "/api/v1/images":
            return "notify"
        if path == "/api/v1/images/upload_urls":
            return "urls"
        if path == "/api/v1/images/private/summary" and "hash=" in self.path:
            return "check"
        return "other"

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self._kind()
        identity = f"{self.command} {self.path} {md5(body) if kind == 'notify' else ''}"
        fault = self.server.fault_for(kind, identity)
        if fault == "reset":
            self._reset()
            return
        if fault in ("500", "502", "503", "429"):
            error = {"error": "injected", "message": f"injected {fault}", "detail": "retry"}
            extra = {"Retry-After": "1"} if fault in ("503", "429") else {}
            content = {"Content-Type": "application/json", **extra}
            self._reply(int(fault), json.dumps(error).encode(), content)
            return
        passed = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        answer = self.server.upstream.request(self.command, self.path, content=body, headers=passed)
        if fault == "drop-answer":  # the server acted; the client never hears of it
            self._reset()
            return
        keep = ("content-type", "retry-after", "etag")
        headers = {k: v for k, v in answer.headers.items() if k.lower() in keep}
        self._reply(answer.status_code, answer.content, headers)

    do_GET = do_PUT = do_POST = do_DELETE = _forward

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the connection may have been reset on purpose
            super().finish()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    """A real server whose public URL is a fault-injecting proxy in front of it."""
    data = tmp_path_factory.mktemp("server")
    port = free_port()
    proxy = FaultProxy(f"http://127.0.0.1:{port}")
    env = clean_env(BITIMAGE_RUN_WORKER="false", BITIMAGE_PUBLIC_URL=proxy.base)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        with running(["serve", "--data-dir", str(data)], env, data / "server.log", port):
            yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.upstream.close()
        thread.join()


def _login(proxy: FaultProxy, email: str) -> Client:
    bit = Client(proxy.base, retry=FAST)
    bit.signup(email, PASSWORD)
    bit.login(email, PASSWORD)
    bit.create_account()
    return bit


def _held(bit: Client) -> list[str]:
    """The md5 of every image the account holds, one entry per image."""
    return [bit.expanded(image.id).hash for image in bit.search(limit=1000)]


def _write(folder: Path, count: int, seed: int) -> dict[str, bytes]:
    folder.mkdir()
    files = {f"img{n:02d}.jpg": make_jpeg(seed=seed + n) for n in range(count)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_transient_failures_are_retried_and_nothing_is_doubled(
    proxied: FaultProxy, tmp_path: Path
) -> None:
    proxied.arm(
        {
            "urls": ["500"],
            "put": ["500", "reset", None, "502", "reset"],
            "notify": ["503", "429", "drop-answer"],
        }
    )
    files = _write(tmp_path / "photos", 17, seed=0)
    with _login(proxied, "retries@example.com") as bit:
        report = bit.upload(sorted((tmp_path / "photos").iterdir()), concurrency=4)
        assert report.failed == [], [f.reason for f in report.failed]
        assert len(report.uploaded) == 17
        assert sorted(_held(bit)) == sorted(md5(data) for data in files.values())
        assert bit.account().image_upload_count == 17
        expected = {
            "urls:500", "put:500", "put:reset", "put:502",
            "notify:503", "notify:429", "notify:drop-answer",
        }  # fmt: skip
        assert set(proxied.injected) == expected
        # Retry-After: 1 was honoured: the 503'd and 429'd notifies came back a second later.
        for fault in ("503", "429"):
            first = next(e for e in proxied.log if e[2] == fault)
            retry = next(e for e in proxied.log if e[1] == first[1] and e[0] > first[0])
            assert retry[0] - first[0] >= 0.9

        # Second run: nothing to upload; the hash checks fail once each and are retried.
        proxied.arm({"check": ["502", "reset"]})
        again = bit.upload(sorted((tmp_path / "photos").iterdir()), concurrency=4)
        assert [f.status for f in again.files] == ["skipped"] * 17
        assert set(proxied.injected) == {"check:502", "check:reset"}
        assert len(_held(bit)) == 17


def test_a_put_that_keeps_failing_is_reported_and_the_rest_go_on(
    proxied: FaultProxy, tmp_path: Path
) -> None:
    proxied.arm({"put": [None, None, "always-500"]})
    files = _write(tmp_path / "photos", 6, seed=50)
    paths = sorted((tmp_path / "photos").iterdir())
    with _login(proxied, "persistent@example.com") as bit:
        first = bit.upload(paths, concurrency=2)
        assert len(first.uploaded) == 5
        assert len(first.failed) == 1
        assert proxied.injected["put:500"] == FAST.attempts
        assert first.failed[0].reason == "injected 500"  # the server's message, once

        proxied.arm({})
        second = bit.upload(paths)
        assert sorted(f.status for f in second.files) == ["skipped"] * 5 + ["uploaded"]
        assert sorted(_held(bit)) == sorted(md5(data) for data in files.values())


def test_a_small_account_is_listed_once_instead_of_asked_per_file(
    proxied: FaultProxy, tmp_path: Path
) -> None:
    files = _write(tmp_path / "photos", 6, seed=60)
    paths = sorted((tmp_path / "photos").iterdir())
    with _login(proxied, "small@example.com") as bit:
        assert [f.status for f in bit.upload(paths[2:3]).files] == ["uploaded"]
        proxied.arm({})
        report = bit.upload(paths)
        assert [f.status for f in report.files] == ["uploaded"] * 2 + ["skipped"] + ["uploaded"] * 3
        assert proxied.distinct["check"] == 0  # one listing, no hash= question per file
        held = bit.find_by_hash(md5(files["img02.jpg"]))
        assert held is not None
        assert report.files[2].image_id == held.id
        assert sorted(_held(bit)) == sorted(md5(data) for data in files.values())


def test_the_cli_retries_too(proxied: FaultProxy, tmp_path: Path) -> None:
    proxied.arm({"put": ["reset"], "notify": ["503"]})
    files = _write(tmp_path / "photos", 6, seed=80)
    with _login(proxied, "cli-retries@example.com") as bit:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
        env.update(BITIMAGE_SERVER=proxied.base, BITIMAGE_TOKEN=bit.token or "")
        env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
        command = [sys.executable, "-m", "bitimage.cli", "upload", str(tmp_path / "photos")]
        done = subprocess.run(
            [*command, "--json"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["uploaded"] == 6
        assert sorted(_held(bit)) == sorted(md5(data) for data in files.values())


def test_client_errors_match_the_servers_error_rows() -> None:
    server_rows = {(cls.status_code, cls.error) for cls in server_errors.ERROR_CLASSES}
    client_rows = {(cls.status_code, cls.error) for cls in ERRORS}
    assert server_rows <= client_rows
    for cls in ERRORS:
        body = {"error": cls.error, "message": "m", "detail": "d"}
        answer = httpx.Response(cls.status_code, json=body, headers={"Retry-After": "3"})
        error = error_from_response(answer)
        assert type(error) is cls
        assert (error.message, error.detail, error.retry_after) == ("m", "d", 3.0)
    odd = error_from_response(httpx.Response(502, text="<html>bad gateway</html>"))
    assert isinstance(odd, ServerError)
    assert "bad gateway" in str(odd)
