"""The seed's walk-through against a real `bitimage serve` on a socket, with a plain HTTP client."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.beanstalkd import Beanstalkd
from tests.databases import fresh_postgres_database
from tests.s3server import client as s3_client
from tests.s3server import moto_s3
from tests.servers import clean_env, running
from tests.support import PASSWORD, make_jpeg, md5


@dataclass
class Deployment:
    """A running `bitimage serve` and a way to list every object it stored."""

    base: str
    data: Path
    stored_objects: Callable[[], list[str]]


def _serve(data: Path, env: dict[str, str]) -> Iterator[str]:
    with running(["serve", "--data-dir", str(data)], env, data / "server.log") as server:
        yield server.base
    assert "Application shutdown complete" in server.output()


def _clean_env() -> dict[str, str]:
    return clean_env(BITIMAGE_SWEEP_INTERVAL_SECONDS="0.2")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Embedded defaults: SQLite, the local signed store, the db:// queue."""
    data = tmp_path_factory.mktemp("server")

    def stored() -> list[str]:
        files = (data / "objects").rglob("*")
        return [str(p) for p in files if p.is_file() and ".meta" not in p.parts]

    for base in _serve(data, _clean_env()):
        yield Deployment(base, data, stored)


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """PostgreSQL, S3 (moto's server over HTTP) and Beanstalkd together, as the seed ran."""
    data = tmp_path_factory.mktemp("production")
    bucket = "bitimage-e2e"
    with (
        fresh_postgres_database() as database_url,
        moto_s3([bucket]) as endpoint,
        Beanstalkd() as beanstalkd,
    ):
        env = _clean_env()
        env.update(
            {name: os.environ[name] for name in os.environ if name.startswith("AWS_")},
            BITIMAGE_DATABASE_URL=database_url,
            BITIMAGE_STORAGE_URL=f"s3://{bucket}",
            BITIMAGE_S3_ENDPOINT_URL=endpoint,
            BITIMAGE_QUEUE_URL=beanstalkd.url,
        )
        migrate = [sys.executable, "-m", "bitimage.cli", "migrate", "--data-dir", str(data)]
        subprocess.run(migrate, env=env, check=True, capture_output=True, timeout=120)

        def stored() -> list[str]:
            listing = s3_client(endpoint).list_objects_v2(Bucket=bucket)
            return [item["Key"] for item in listing.get("Contents", [])]

        for base in _serve(data, env):
            yield Deployment(base, data, stored)


@pytest.mark.parametrize("deployment", ["server", "production_server"])
def test_walkthrough_over_http(deployment: str, request: pytest.FixtureRequest) -> None:
    served: Deployment = request.getfixturevalue(deployment)
    base, data = served.base, served.data
    with httpx.Client(base_url=base, timeout=10) as http:
        creds = {"email": "shopify@email.com", "password": PASSWORD}
        assert http.post("/cas/signup", json=creds).status_code == 201
        login = http.post("/cas/loginSubmit", json=creds)
        assert login.status_code == 202
        assert login.json()["status"] == 202
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        created = http.post("/api/v1/users", headers=headers)
        assert created.status_code == 201
        assert created.json()["image_upload_count"] == 0
        me = created.json()["id"]

        payloads = [make_jpeg(seed=n) for n in range(3)]
        urls = http.get("/api/v1/images/upload_urls?image_count=3", headers=headers).json()
        entries = urls["image_upload_urls"]
        for entry, payload in zip(entries, payloads, strict=True):
            assert entry["method"] == "PUT"
            put = httpx.put(entry["url"], content=payload, timeout=10)
            assert put.status_code == 200
        body = {
            "images": [
                {
                    "id": e["id"] if "id" in e else e["image_id"],
                    "name": name,
                    "hash": md5(p),
                    "is_private": name != "nicelettuce",
                    "tags": [{"name": t} for t in tags],
                }
                for e, p, name, tags in zip(
                    entries,
                    payloads,
                    ["nicelettuce", "coolcat", "sunset"],
                    [["leafy", "salad"], ["smallcat"], ["sky"]],
                    strict=True,
                )
            ]
        }
        confirmed = http.post("/api/v1/images", headers=headers, json=body)
        assert confirmed.status_code == 201, confirmed.text

        # The worker analyses each image (on production: outbox -> relay -> Beanstalkd).
        lettuce = entries[0]["image_id"]
        deadline = time.monotonic() + 60
        while (shown := http.get(f"/api/v1/images/{lettuce}/expanded", headers=headers).json())[
            "analysis_status"
        ] == "pending" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert shown["analysis_status"] == "done", shown
        assert shown["labels"], "the colour analyser names at least one colour"

        found = http.get("/api/v1/images/private/summary?name=nicelettuse", headers=headers).json()
        assert [i["name"] for i in found["images"]] == ["nicelettuce"]
        by_tag = http.get("/api/v1/images/private/summary?tag=smallcat", headers=headers).json()
        assert [i["name"] for i in by_tag["images"]] == ["coolcat"]
        by_label = http.get(
            "/api/v1/images/private/summary?content_label=vegetable", headers=headers
        )
        assert by_label.status_code == 200
        assert by_label.json()["images"] == []
        paged = http.get("/api/v1/images/private/summary?limit=2", headers=headers).json()
        rest = http.get(
            f"/api/v1/images/private/summary?limit=2&cursor={paged['next_cursor']}", headers=headers
        ).json()
        assert [i["name"] for i in paged["images"] + rest["images"]] == [
            "sunset",
            "coolcat",
            "nicelettuce",
        ]
        assert rest["next_cursor"] is None

        public = httpx.get(f"{base}/api/v1/images/public/summary").json()["images"]
        assert [i["name"] for i in public] == ["nicelettuce"]
        expanded = http.get(f"/api/v1/images/{public[0]['id']}/expanded").json()
        assert httpx.get(expanded["view_url"]).content == payloads[0]

        ids = [e["image_id"] for e in entries]
        assert (
            http.delete(f"/api/v1/images?id={ids[0]}&id={ids[1]}", headers=headers).status_code
            == 204
        )
        assert http.delete(f"/api/v1/users/{me}", headers=headers).status_code == 204
        assert http.get(f"/api/v1/users/{me}", headers=headers).status_code == 404

    assert served.stored_objects() == []
    key_file = data / "secrets" / "cas_ed25519.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_openapi_documents_every_route_and_its_errors(server: Deployment) -> None:
    base = server.base
    spec = httpx.get(f"{base}/openapi.json").json()
    assert httpx.get(f"{base}/docs").status_code == 200
    paths = spec["paths"]
    for route in (
        "/cas/signup",
        "/cas/loginSubmit",
        "/cas/authorizeUser",
        "/cas/.well-known/jwks.json",
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/images/upload_urls",
        "/api/v1/images",
        "/api/v1/images/private/summary",
        "/api/v1/images/public/summary",
        "/api/v1/images/{image_id}/expanded",
        "/api/v1/images/{image_id}/moderation/clear",
        "/storage/{key}",
        "/healthz",
    ):
        assert route in paths, route
    notify = paths["/api/v1/images"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409", "413", "415", "422"} <= set(notify)
    assert "ErrorBody" in notify["415"]["content"]["application/json"]["schema"]["$ref"]
