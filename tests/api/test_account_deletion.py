"""Deleting a Bit-image account also deletes the built-in CAS identity behind it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from tests.support import PASSWORD, app_client, auth, make_container, make_settings, user_id


def _login(client: TestClient, email: str) -> int:
    body = {"email": email, "password": PASSWORD}
    return client.post("/cas/loginSubmit", json=body).status_code


def test_deleting_the_account_deletes_the_cas_identity(client: TestClient) -> None:
    email = "leaving@example.com"
    headers = auth(client, email)
    old_token = headers["Authorization"].split()[1]
    me = user_id(client, headers)
    assert client.delete(f"/api/v1/users/{me}", headers=headers).status_code == 204

    # The email and password stop working, and the CAS no longer vouches for the old token.
    assert _login(client, email) == 401
    check = client.post("/cas/authorizeUser", json={"token": old_token}).json()
    assert check == {"is_user_authorized": False, "user_id": None}
    # The old token cannot bring the account back either.
    again = client.post("/api/v1/users", headers=headers)
    assert again.status_code == 401, again.text
    assert client.get(f"/api/v1/users/{me}", headers=headers).status_code == 404

    # The email is free again: a new identity, with a new id.
    new_headers = auth(client, email)
    assert _login(client, email) == 202
    assert user_id(client, new_headers) != me


def test_concurrent_deletions_of_one_account(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(
        tmp_path / "data", database_url=database_url, signup_attempts_per_minute=1000
    )
    container = make_container(settings)
    with app_client(container) as client, ThreadPoolExecutor(6) as pool:
        for round_ in range(8):
            email = f"twice{round_}@example.com"
            headers = auth(client, email)
            me = user_id(client, headers)

            def delete(_: int, me: str = me, headers: dict[str, str] = headers) -> int:
                return client.delete(f"/api/v1/users/{me}", headers=headers).status_code

            assert sorted(pool.map(delete, range(6))) == [204] + [404] * 5
            assert _login(client, email) == 401
    container.close()
