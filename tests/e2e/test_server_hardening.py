"""A real server: whom it believes about client addresses, and what its access log keeps."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.servers import clean_env, running
from tests.support import PASSWORD, make_jpeg, md5

WRONG = {"email": "target@example.com", "password": "not the password"}


def _logins(base: str, forwarded_for: list[str]) -> list[int]:
    """Failed logins, each claiming (X-Forwarded-For) to come from the given address."""
    return [
        httpx.post(
            f"{base}/cas/loginSubmit", json=WRONG, headers={"X-Forwarded-For": address}
        ).status_code
        for address in forwarded_for
    ]


@pytest.mark.parametrize("command", ["serve", "cas"])
def test_a_forged_forwarded_for_does_not_reset_the_limit(tmp_path: Path, command: str) -> None:
    env = clean_env(BITIMAGE_LOGIN_ATTEMPTS_PER_MINUTE="2", BITIMAGE_SIGNUP_ATTEMPTS_PER_MINUTE="2")
    args = [command, "--data-dir", str(tmp_path / "data")]
    with running(args, env, tmp_path / "server.log") as server:
        forged = [f"203.0.113.{n}" for n in range(1, 4)]
        assert _logins(server.base, forged) == [401, 401, 429]
        signups = [
            httpx.post(
                f"{server.base}/cas/signup",
                json={"email": f"s{n}@example.com", "password": PASSWORD},
                headers={"X-Forwarded-For": address},
            )
            for n, address in enumerate(forged)
        ]
        assert [answer.status_code for answer in signups] == [201, 201, 429]
        assert int(signups[2].headers["retry-after"]) >= 1


def test_a_trusted_proxy_is_believed(tmp_path: Path) -> None:
    env = clean_env(
        BITIMAGE_LOGIN_ATTEMPTS_PER_MINUTE="2", BITIMAGE_FORWARDED_ALLOW_IPS="127.0.0.1"
    )
    args = ["serve", "--data-dir", str(tmp_path / "data")]
    with running(args, env, tmp_path / "server.log") as server:
        # Behind the proxy, each client is counted by the address the proxy saw.
        assert _logins(server.base, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == [401] * 3
        assert _logins(server.base, ["198.51.100.7"] * 3) == [401, 401, 429]


def test_the_access_log_keeps_no_signature(tmp_path: Path) -> None:
    args = ["serve", "--data-dir", str(tmp_path / "data")]
    with running(args, clean_env(), tmp_path / "server.log") as server:
        http = httpx.Client(base_url=server.base, timeout=10)
        creds = {"email": "logged@example.com", "password": PASSWORD}
        assert http.post("/cas/signup", json=creds).status_code == 201
        token = http.post("/cas/loginSubmit", json=creds).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert http.post("/api/v1/users", headers=headers).status_code == 201
        grant = http.get("/api/v1/images/upload_urls?image_count=1", headers=headers).json()
        upload = grant["image_upload_urls"][0]
        payload = make_jpeg(seed=7)
        assert httpx.put(upload["url"], content=payload).status_code == 200
        image = {"id": upload["image_id"], "name": "logged", "hash": md5(payload)}
        notify = {"images": [{**image, "is_private": True, "tags": []}]}
        assert http.post("/api/v1/images", headers=headers, json=notify).status_code == 201
        expanded = http.get(f"/api/v1/images/{upload['image_id']}/expanded", headers=headers)
        view_url = expanded.json()["view_url"]
        assert httpx.get(view_url).content == payload
        http.close()
        signatures = [re.search(r"signature=([0-9a-f]+)", url) for url in (upload["url"], view_url)]
        log = server.output()
    assert all(signatures)
    for found in signatures:
        assert found is not None
        assert found.group(1) not in log
    # The requests were logged, with their path and expiry, the signature hidden.
    assert log.count("/storage/") >= 2, log
    assert "signature=REDACTED" in log
