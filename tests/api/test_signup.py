"""Signup: the password is hashed outside any write transaction, and signups are rate limited."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.pool import QueuePool

from bitimage.bootstrap import Container
from tests.support import PASSWORD, app_client, make_container, make_settings


def _another_writer_can_begin(container: Container) -> bool:
    """On SQLite: whether a separate connection takes the write lock at once (no waiting)."""
    path = container.database.engine.url.database
    assert path is not None
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_signup_hashes_while_holding_no_connection_or_lock(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    passwords = container.cas.passwords
    real_hash = passwords.hash
    seen: list[tuple[int, bool]] = []

    def watched_hash(password: str) -> str:
        # While argon2id runs (0.2 s at the default cost), no transaction may be open: on
        # SQLite it would hold the one write lock every other writer of the service waits for.
        free = container.database.dialect != "sqlite" or _another_writer_can_begin(container)
        pool = container.database.engine.pool
        assert isinstance(pool, QueuePool)  # file SQLite and PostgreSQL alike
        seen.append((pool.checkedout(), free))
        return real_hash(password)

    monkeypatch.setattr(passwords, "hash", watched_hash)
    answer = client.post("/cas/signup", json={"email": "calm@example.com", "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    assert seen == [(0, True)]
    login = client.post(
        "/cas/loginSubmit", json={"email": "calm@example.com", "password": PASSWORD}
    )
    assert login.status_code == 202


def test_signup_is_rate_limited_per_client_address(tmp_path: Path) -> None:
    container = make_container(make_settings(tmp_path, signup_attempts_per_minute=2))
    with app_client(container) as client:
        for n in range(2):
            body = {"email": f"new{n}@example.com", "password": PASSWORD}
            assert client.post("/cas/signup", json=body).status_code == 201
        answer = client.post(
            "/cas/signup", json={"email": "new2@example.com", "password": PASSWORD}
        )
        assert answer.status_code == 429
        assert answer.json()["error"] == "Too many requests"
        assert 1 <= int(answer.headers["retry-after"]) <= 60
        # The refused attempt created nothing.
        login = {"email": "new2@example.com", "password": PASSWORD}
        assert client.post("/cas/loginSubmit", json=login).status_code == 401
    container.close()


def test_concurrent_signups_of_one_email_make_one_account(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(
        tmp_path / "data", database_url=database_url, signup_attempts_per_minute=1000
    )
    container = make_container(settings)
    with app_client(container) as client, ThreadPoolExecutor(8) as pool:

        def signup(body: dict[str, str]) -> int:
            return client.post("/cas/signup", json=body).status_code

        for round_ in range(10):
            body = {"email": f"race{round_}@example.com", "password": PASSWORD}
            assert sorted(pool.map(signup, [body] * 8)) == [201] + [409] * 7
    container.close()
