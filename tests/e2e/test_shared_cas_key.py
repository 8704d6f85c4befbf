"""Two API servers with their own data folders share BITIMAGE_CAS_KEY_FILE (and one database).

Each accepts the other's tokens; a server with its own key does not. `bitimage cas rotate-key`
while both run: new tokens carry the new kid and both accept them, tokens signed before stay
valid, and the JWKS publishes both keys.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.databases import fresh_postgres_database
from tests.servers import clean_env, running
from tests.support import PASSWORD

PUBLIC_URL = "http://images.example.test"  # one name in front of both, as a load balancer's


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    with fresh_postgres_database() as url:
        env = clean_env(
            BITIMAGE_DATABASE_URL=url,
            BITIMAGE_PUBLIC_URL=PUBLIC_URL,
            BITIMAGE_AUTO_MIGRATE="true",
            BITIMAGE_RUN_WORKER="false",
        )
        yield tmp_path / "shared" / "cas.pem", env


def _login(base: str, creds: dict[str, str]) -> dict[str, str]:
    answer = httpx.post(f"{base}/cas/loginSubmit", json=creds)
    assert answer.status_code == 202, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _kid(headers: dict[str, str]) -> str:
    return str(jwt.get_unverified_header(headers["Authorization"].split()[1])["kid"])


def _me(base: str, headers: dict[str, str]) -> int:
    return httpx.get(f"{base}/api/v1/users/me", headers=headers).status_code


def test_servers_sharing_the_key_file_accept_each_others_tokens(
    tmp_path: Path, shared: tuple[Path, dict[str, str]]
) -> None:
    key_file, env = shared
    with_key = {**env, "BITIMAGE_CAS_KEY_FILE": str(key_file)}
    with (
        running(["serve", "--data-dir", str(tmp_path / "a")], with_key, tmp_path / "a.log") as a,
        running(["serve", "--data-dir", str(tmp_path / "b")], with_key, tmp_path / "b.log") as b,
        running(["serve", "--data-dir", str(tmp_path / "c")], env, tmp_path / "c.log") as c,
    ):
        creds = {"email": "shared@example.com", "password": PASSWORD}
        assert httpx.post(f"{a.base}/cas/signup", json=creds).status_code == 201
        from_a = _login(a.base, creds)
        assert httpx.post(f"{b.base}/api/v1/users", headers=from_a).status_code == 201
        assert _me(a.base, from_a) == 200
        from_b = _login(b.base, creds)
        assert _kid(from_a) == _kid(from_b)
        assert _me(a.base, from_b) == 200
        # Server c keeps its own key in its data folder: the others' tokens mean nothing there.
        assert _me(c.base, from_a) == 401

        signed_before = _login(a.base, creds)  # not shown to any server until after rotation
        rotated = subprocess.run(
            [sys.executable, "-m", "bitimage.cli", "cas", "rotate-key"],
            env=with_key,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert rotated.returncode == 0, rotated.stderr
        new_kid = rotated.stdout.split()[3]

        after = _login(a.base, creds)
        assert _kid(after) == new_kid != _kid(signed_before)
        assert _me(b.base, after) == 200  # b reads the rotated file when it meets the new kid
        assert _kid(_login(b.base, creds)) == new_kid
        for server in (a, b):
            assert _me(server.base, signed_before) == 200  # old tokens live until they expire
            published = httpx.get(f"{server.base}/cas/.well-known/jwks.json").json()
            assert [key["kid"] for key in published["keys"]] == [new_kid, _kid(signed_before)]
