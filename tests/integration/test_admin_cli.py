"""`bitimage admin users | set-limit | delete-user`, in-process, on both databases."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bitimage.bootstrap import Container
from bitimage.cli.main import app
from bitimage.errors import NotFound
from tests.support import (
    PASSWORD,
    app_client,
    auth,
    make_container,
    make_jpeg,
    make_settings,
    stage,
    upload,
    user_id,
)


@pytest.fixture
def operated(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Container, TestClient, Path]]:
    data = tmp_path / "data"
    container = make_container(make_settings(data, database_url=database_url))
    monkeypatch.setenv("BITIMAGE_DATABASE_URL", database_url)
    monkeypatch.setenv("BITIMAGE_AUTO_MIGRATE", "false")
    with app_client(container) as client:
        yield container, client, data
    container.close()


def _admin(data: Path, *words: str, given: str | None = None) -> Any:
    return CliRunner().invoke(app, ["admin", *words, "--data-dir", str(data)], input=given)


def _keys(container: Container) -> set[str]:
    return {info.key for info in container.store.list("")}


def test_users_lists_accounts_and_bare_signups(
    operated: tuple[Container, TestClient, Path],
) -> None:
    _, client, data = operated
    alice = auth(client, "alice@example.com")
    upload(client, alice, [make_jpeg(seed=1), make_jpeg(seed=2)])
    auth(client, "bob@example.com")
    body = {"email": "carol@example.com", "password": PASSWORD}
    assert client.post("/cas/signup", json=body).status_code == 201  # no Bit-image account

    listed = _admin(data, "users", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {row["email"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"alice@example.com", "bob@example.com", "carol@example.com"}
    assert rows["alice@example.com"]["id"] == user_id(client, alice)
    assert rows["alice@example.com"]["image_upload_count"] == 2
    assert rows["alice@example.com"]["image_upload_limit"] is None
    assert rows["alice@example.com"]["account"] is True
    assert rows["carol@example.com"]["account"] is False

    table = _admin(data, "users")
    assert table.exit_code == 0, table.output
    assert "alice@example.com" in table.stdout
    assert "2 account(s), 1 sign-up(s) without one" in table.stdout


def test_set_limit_by_email_or_id_applies_to_the_next_upload(
    operated: tuple[Container, TestClient, Path],
) -> None:
    _, client, data = operated
    headers = auth(client, "limited@example.com")
    upload(client, headers, [make_jpeg(seed=1)])
    done = _admin(data, "set-limit", "LIMITED@example.com", "1")
    assert done.exit_code == 0, done.output
    assert "image limit 1 (1 image(s) now)" in done.stdout
    me = client.get("/api/v1/users/me", headers=headers).json()
    assert me["image_upload_limit"] == 1
    refused = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
    assert refused.status_code == 403, refused.text

    lifted = _admin(data, "set-limit", user_id(client, headers), "unlimited")
    assert lifted.exit_code == 0, lifted.output
    assert client.get("/api/v1/users/me", headers=headers).json()["image_upload_limit"] is None
    stage(client, headers, [make_jpeg(seed=2)])  # allowed again

    for wrong, says in [
        (["nobody@example.com", "3"], "no one signed up with nobody@example.com"),
        ([str(uuid.uuid4()), "3"], "has no Bit-image account"),
        (["limited@example.com", "1.5"], "is not a count"),
        (["limited@example.com", "many"], "is not a count"),
        (["not-a-user", "3"], "neither a user id nor an email"),
    ]:
        refused_cli = _admin(data, "set-limit", *wrong)
        assert refused_cli.exit_code == 2, refused_cli.output
        assert says in refused_cli.stderr
        assert "Traceback" not in refused_cli.output


def test_delete_user_goes_the_api_way(operated: tuple[Container, TestClient, Path]) -> None:
    container, client, data = operated
    leaving = auth(client, "leaving@example.com")
    staying = auth(client, "staying@example.com")
    gone, kept = user_id(client, leaving), user_id(client, staying)
    upload(client, leaving, [make_jpeg(seed=1), make_jpeg(seed=2)])
    stage(client, leaving, [make_jpeg(seed=3)])  # staged, never confirmed
    upload(client, staying, [make_jpeg(seed=4)])
    assert any(gone in key for key in _keys(container))

    declined = _admin(data, "delete-user", "leaving@example.com", given="n\n")
    assert declined.exit_code == 1
    assert client.get("/api/v1/users/me", headers=leaving).status_code == 200

    done = _admin(data, "delete-user", "leaving@example.com", given="y\n")
    assert done.exit_code == 0, done.output
    assert "stored objects purged" in done.stdout
    assert not any(gone in key for key in _keys(container))  # bytes, staging too
    assert any(kept in key for key in _keys(container))
    login = {"email": "leaving@example.com", "password": PASSWORD}
    assert client.post("/cas/loginSubmit", json=login).status_code == 401
    assert client.get("/api/v1/users/me", headers=staying).status_code == 200

    again = _admin(data, "delete-user", gone, "--yes")
    assert again.exit_code == 2
    assert "neither an account nor a sign-up" in again.stderr

    bare = {"email": "bare@example.com", "password": PASSWORD}
    assert client.post("/cas/signup", json=bare).status_code == 201
    signup_only = _admin(data, "delete-user", "bare@example.com", "--yes")
    assert signup_only.exit_code == 0, signup_only.output
    assert "sign-up deleted" in signup_only.stdout
    assert client.post("/cas/loginSubmit", json=bare).status_code == 401


def test_two_operators_deleting_one_user_delete_it_once(
    operated: tuple[Container, TestClient, Path],
) -> None:
    container, client, _ = operated
    target = uuid.UUID(user_id(client, auth(client, "raced@example.com")))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def delete() -> None:
        barrier.wait()
        try:
            with container.database.transaction() as session:
                container.users.delete_as_operator(session, target)
            outcomes.append("deleted")
        except NotFound:
            outcomes.append("not found")

    threads = [threading.Thread(target=delete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["deleted", "not found"]
