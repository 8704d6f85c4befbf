"""BITIMAGE_DATABASE_READ_URL on a real hot standby: searches read it, everything else the primary.

Replication lag is made visible by pausing the replica's replay: a search misses the image
just confirmed, while the image itself (expanded) and the account, read on the primary, do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bitimage.config import SettingsError, load_settings
from tests.pgreplica import Pair, primary_and_replica
from tests.support import app_client, auth, make_container, make_jpeg, make_settings, upload


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with primary_and_replica() as started:
        yield started


def _names(client: TestClient, headers: dict[str, str]) -> list[str]:
    answer = client.get("/api/v1/images/private/summary", headers=headers)
    assert answer.status_code == 200, answer.text
    return sorted(image["name"] for image in answer.json()["images"])


def test_searches_read_the_replica_and_writes_stay_on_the_primary(
    tmp_path: Path, pair: Pair
) -> None:
    settings = make_settings(
        tmp_path / "data", database_url=pair.primary, database_read_url=pair.replica
    )
    container = make_container(settings)  # migrates the primary; the replica follows
    try:
        with app_client(container) as client:
            health = client.get("/healthz").json()
            assert (health["database"], health["replica"]) == ("ok", "ok")
            headers = auth(client, "replicated@example.com")
            upload(client, headers, [make_jpeg(seed=1)], name="first")
            pair.wait_for_replay()
            assert _names(client, headers) == ["first"]

            pair.replay(paused=True)  # from here the replica lags
            try:
                [second] = upload(client, headers, [make_jpeg(seed=2)], name="second")
                assert _names(client, headers) == ["first"]  # the search: on the replica
                shown = client.get(f"/api/v1/images/{second['id']}/expanded", headers=headers)
                assert shown.status_code == 200  # the image itself: on the primary
                me = client.get("/api/v1/users/me", headers=headers).json()
                assert me["image_upload_count"] == 2
            finally:
                pair.replay(paused=False)
            pair.wait_for_replay()
            assert _names(client, headers) == ["first", "second"]

        with container.database.transaction(write=False, replica=True) as session:
            assert session.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is True
        with (
            pytest.raises(DBAPIError, match="read-only transaction"),
            container.database.transaction(write=False, replica=True) as session,
        ):
            session.execute(text("DELETE FROM users"))
        with container.database.transaction(write=False) as session:
            assert session.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is False
    finally:
        container.close()


def test_a_replica_needs_a_postgresql_primary(tmp_path: Path) -> None:
    replica = "postgresql://postgres@127.0.0.1:5433/bitimage"
    with pytest.raises(SettingsError, match="needs a postgresql:// BITIMAGE_DATABASE_URL"):
        load_settings(data_dir=tmp_path, database_read_url=replica)
    with pytest.raises(SettingsError, match="must start with postgresql://"):
        load_settings(
            data_dir=tmp_path,
            database_url=replica,
            database_read_url=f"sqlite:///{tmp_path / 'x.db'}",
        )
