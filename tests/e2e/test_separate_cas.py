"""`bitimage cas` alone, trusted by an API through BITIMAGE_JWKS_URL; bad settings: one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_server import _free_port
from tests.support import PASSWORD


def _start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bitimage.cli", *args, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(process.communicate()[0].decode())


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
    env["BITIMAGE_ARGON2_MEMORY_KIB"] = "8192"
    return env


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    cas_port, api_port = _free_port(), _free_port()
    cas_url = f"http://127.0.0.1:{cas_port}"
    cas = _start(["cas", "--data-dir", str(tmp_path / "cas")], _clean_env(), cas_port)
    env = _clean_env()
    env["BITIMAGE_JWKS_URL"] = f"{cas_url}/cas/.well-known/jwks.json"
    env["BITIMAGE_JWT_ISSUER"] = f"{cas_url}/cas"
    api = _start(["serve", "--data-dir", str(tmp_path / "api")], env, api_port)
    yield cas_url, f"http://127.0.0.1:{api_port}"
    for process in (api, cas):
        process.terminate()
        process.communicate(timeout=15)


def test_api_trusts_an_external_issuer(two_servers: tuple[str, str]) -> None:
    cas_url, api_url = two_servers
    creds = {"email": "remote@example.com", "password": PASSWORD}
    assert httpx.post(f"{cas_url}/cas/signup", json=creds).status_code == 201
    token = httpx.post(f"{cas_url}/cas/loginSubmit", json=creds).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{api_url}/api/v1/users", headers=headers).status_code == 201
    # the CAS alone serves no API, and the API mounts no CAS of its own
    assert httpx.post(f"{cas_url}/api/v1/users", headers=headers).status_code == 404
    assert httpx.post(f"{api_url}/cas/signup", json=creds).status_code == 404


@pytest.mark.parametrize(
    ("name", "value"),
    [("BITIMAGE_STORAGE_URL", "ftp://nowhere"), ("BITIMAGE_NO_SUCH_THING", "1")],
)
def test_bad_setting_stops_start_in_one_line(tmp_path: Path, name: str, value: str) -> None:
    env = _clean_env()
    env[name] = value
    done = subprocess.run(
        [sys.executable, "-m", "bitimage.cli", "serve", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert name in lines[0]


def test_several_server_processes_share_one_data_folder(tmp_path: Path) -> None:
    port = _free_port()
    server = _start(["serve", "--processes", "2", "--data-dir", str(tmp_path)], _clean_env(), port)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            creds = {"email": "many@example.com", "password": PASSWORD}
            assert http.post("/cas/signup", json=creds).status_code == 201
            # each request may land on either process: tokens and URLs must work in both
            for _ in range(6):
                token = http.post("/cas/loginSubmit", json=creds).json()["token"]
                headers = {"Authorization": f"Bearer {token}"}
                assert http.post("/api/v1/users", headers=headers).status_code in (201, 409)
                urls = http.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
                assert (
                    httpx.put(urls.json()["image_upload_urls"][0]["url"], content=b"x").status_code
                    == 200
                )
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode()
    assert output.count("Started server process") >= 2, output
