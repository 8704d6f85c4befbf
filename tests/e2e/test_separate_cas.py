"""`bitimage cas` alone, trusted by an API through BITIMAGE_JWKS_URL; bad settings: one line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import clean_env, free_port, running
from tests.support import PASSWORD


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    cas_port = free_port()
    cas_url = f"http://127.0.0.1:{cas_port}"
    api_env = clean_env(
        BITIMAGE_JWKS_URL=f"{cas_url}/cas/.well-known/jwks.json",
        BITIMAGE_JWT_ISSUER=f"{cas_url}/cas",
    )
    with (
        running(
            ["cas", "--data-dir", str(tmp_path / "cas")],
            clean_env(),
            tmp_path / "cas.log",
            cas_port,
        ),
        running(
            ["serve", "--data-dir", str(tmp_path / "api")], api_env, tmp_path / "api.log"
        ) as api,
    ):
        yield cas_url, api.base


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
    # Deleting the account removes Bit-image's data only: an external issuer keeps its identity.
    me = httpx.post(f"{cas_url}/cas/authorizeUser", json={"token": token}).json()["user_id"]
    assert httpx.delete(f"{api_url}/api/v1/users/{me}", headers=headers).status_code == 204
    assert httpx.post(f"{cas_url}/cas/loginSubmit", json=creds).status_code == 202
    assert httpx.post(f"{api_url}/api/v1/users", headers=headers).status_code == 201


@pytest.mark.parametrize(
    ("name", "value"),
    [("BITIMAGE_STORAGE_URL", "ftp://nowhere"), ("BITIMAGE_NO_SUCH_THING", "1")],
)
def test_bad_setting_stops_start_in_one_line(tmp_path: Path, name: str, value: str) -> None:
    env = clean_env()
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
    args = ["serve", "--processes", "2", "--data-dir", str(tmp_path)]
    with (
        running(args, clean_env(), tmp_path / "server.log") as server,
        httpx.Client(base_url=server.base, timeout=10) as http,
    ):
        # `running` returns once one process answers; the other may still be importing.
        server.wait_for("Application startup complete", count=2)
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
    assert server.output().count("Started server process") >= 2, server.output()
