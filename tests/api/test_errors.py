"""Every error row of API.md answers with its status and the {error, message, detail} body."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import update

from bitimage.bootstrap import Container
from bitimage.storage.keys import staging_key
from bitimage.users.models import User
from tests.support import (
    PASSWORD,
    app_client,
    auth,
    make_container,
    make_jpeg,
    make_settings,
    md5,
    notify_body,
    stage,
    upload,
    user_id,
)


def assert_error(
    answer: object, status: int, error: str, *mentions: str, image_id: str | None = None
) -> None:
    """The answer has this status, the API's error body, and names what it should.

    `image_id` is the one image the error concerns; without it the body has no `image_id`.
    """
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "message", "detail"} | ({"image_id"} if image_id else set())
    assert body.get("image_id") == image_id
    assert body["error"] == error
    for mention in mentions:
        assert mention in body["message"]


BAD = "Request is invalid"
AUTH = "Authorization failed"
DENIED = "Access denied"
MISSING = "Resource not found"
CONFLICT = "Conflict occurred, resource already exists"


@pytest.fixture
def headers(client: TestClient) -> dict[str, str]:
    return auth(client, "owner@example.com")


class TestInvalidRequest:
    def test_out_of_range_count(self, client: TestClient, headers: dict[str, str]) -> None:
        for count in ("0", "1001", "-3", "lots"):
            answer = client.get(f"/api/v1/images/upload_urls?image_count={count}", headers=headers)
            assert_error(answer, 400, BAD, "image_count")

    def test_malformed_body(self, client: TestClient, headers: dict[str, str]) -> None:
        answer = client.post(
            "/api/v1/images", headers={**headers, "content-type": "application/json"}, content=b"{"
        )
        assert_error(answer, 400, BAD)
        assert_error(client.post("/api/v1/images", headers=headers, json={"images": []}), 400, BAD)
        bad_hash = notify_body([str(uuid.uuid4())], [b"x"])
        bad_hash["images"][0]["hash"] = "nothex"
        assert_error(
            client.post("/api/v1/images", headers=headers, json=bad_hash), 400, BAD, "hash"
        )

    def test_more_than_five_images(self, client: TestClient, headers: dict[str, str]) -> None:
        payloads = [make_jpeg(seed=n) for n in range(6)]
        ids = stage(client, headers, payloads)
        answer = client.post("/api/v1/images", headers=headers, json=notify_body(ids, payloads))
        assert_error(answer, 400, BAD, "at most 5")

    def test_bad_uuid(self, client: TestClient, headers: dict[str, str]) -> None:
        assert_error(client.get("/api/v1/images/not-a-uuid/expanded"), 400, BAD, "image_id")
        assert_error(client.delete("/api/v1/images?id=123", headers=headers), 400, BAD)

    def test_bad_cursor_and_limit(self, client: TestClient, headers: dict[str, str]) -> None:
        url = "/api/v1/images/private/summary"
        assert_error(client.get(f"{url}?cursor=garbage", headers=headers), 400, BAD, "cursor")
        assert_error(client.get(f"{url}?limit=1001", headers=headers), 400, BAD, "limit")


class TestAuthorizationFailed:
    def test_no_token(self, client: TestClient) -> None:
        assert_error(client.post("/api/v1/users"), 401, AUTH)

    def test_bad_signature(self, client: TestClient, headers: dict[str, str]) -> None:
        token = headers["Authorization"].split()[1]
        head, payload, signature = token.split(".")
        forged = f"{head}.{payload}.{signature[::-1]}"
        answer = client.get(
            "/api/v1/images/private/summary", headers={"Authorization": f"Bearer {forged}"}
        )
        assert_error(answer, 401, AUTH)

    def _claims(self, container: Container, **changes: object) -> dict[str, object]:
        now = int(time.time())
        claims: dict[str, object] = {
            "sub": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 600,
            "iss": container.settings.issuer,
        }
        claims.update(changes)
        return claims

    def test_expired_token(self, client: TestClient, container: Container) -> None:
        key = container.cas.issuer.keys.signing().key
        kid = container.cas.issuer.jwk["kid"]
        claims = self._claims(container, exp=int(time.time()) - 3600)
        token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})
        answer = client.post("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert_error(answer, 401, AUTH, "expired")

    def test_unknown_issuer(self, client: TestClient, container: Container) -> None:
        key = container.cas.issuer.keys.signing().key
        kid = container.cas.issuer.jwk["kid"]
        token = jwt.encode(
            self._claims(container, iss="https://evil.example"),
            key,
            algorithm="EdDSA",
            headers={"kid": kid},
        )
        answer = client.post("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert_error(answer, 401, AUTH, "issuer")

    def test_other_key(self, client: TestClient, container: Container) -> None:
        kid = container.cas.issuer.jwk["kid"]
        token = jwt.encode(
            self._claims(container),
            Ed25519PrivateKey.generate(),
            algorithm="EdDSA",
            headers={"kid": kid},
        )
        assert_error(
            client.post("/api/v1/users", headers={"Authorization": f"Bearer {token}"}), 401, AUTH
        )

    def test_alg_none_and_hs256(self, client: TestClient, container: Container) -> None:
        kid = container.cas.issuer.jwk["kid"]
        unsigned = jwt.encode(self._claims(container), "", algorithm="none", headers={"kid": kid})
        assert_error(
            client.post("/api/v1/users", headers={"Authorization": f"Bearer {unsigned}"}), 401, AUTH
        )
        public = container.cas.issuer.jwk["x"].encode()
        hs = jwt.encode(
            self._claims(container), public * 2, algorithm="HS256", headers={"kid": kid}
        )
        assert_error(
            client.post("/api/v1/users", headers={"Authorization": f"Bearer {hs}"}), 401, AUTH
        )

    def test_wrong_password(self, client: TestClient, headers: dict[str, str]) -> None:
        answer = client.post(
            "/cas/loginSubmit", json={"email": "owner@example.com", "password": "wrong-one"}
        )
        assert_error(answer, 401, AUTH)


class TestAccessDenied:
    def test_other_users_account(self, client: TestClient, headers: dict[str, str]) -> None:
        other = auth(client, "other@example.com")
        target = user_id(client, other)
        assert_error(client.get(f"/api/v1/users/{target}", headers=headers), 403, DENIED)
        assert_error(client.delete(f"/api/v1/users/{target}", headers=headers), 403, DENIED)
        assert client.get(f"/api/v1/users/{target}", headers=other).status_code == 200

    def test_tampered_and_expired_urls(self, client: TestClient, headers: dict[str, str]) -> None:
        url = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers).json()[
            "image_upload_urls"
        ][0]["url"]
        tampered = url.replace("signature=", "signature=0")
        assert_error(client.put(tampered, content=b"x"), 403, DENIED)
        base, query = url.split("?")
        expires = int(query.split("&")[0].split("=")[1])
        moved = url.replace(f"expires={expires}", f"expires={expires + 10}")
        assert_error(client.put(moved, content=b"x"), 403, DENIED)
        other_key = base.rsplit("/", 1)[0] + f"/{uuid.uuid4()}?{query}"
        assert_error(client.put(other_key, content=b"x"), 403, DENIED)

    def test_expired_url(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, upload_url_ttl_seconds=10)
        container = make_container(settings)
        with app_client(container) as client:
            headers = auth(client, "late@example.com")
            url = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers).json()[
                "image_upload_urls"
            ][0]["url"]
            store = container.local_store
            assert store is not None
            key = url.split("/storage/")[1].split("?")[0]
            past = int(time.time()) - 1
            signature = store.signer.signature("PUT", key, past)
            expired = f"http://127.0.0.1:8000/storage/{key}?expires={past}&signature={signature}"
            assert_error(client.put(expired, content=b"x"), 403, DENIED, "expired")
        container.close()

    def test_image_limit(self, tmp_path: Path) -> None:
        container = make_container(make_settings(tmp_path, default_image_upload_limit=2))
        with app_client(container) as client:
            headers = auth(client, "limited@example.com")
            upload(client, headers, [make_jpeg(seed=1)])
            answer = client.get("/api/v1/images/upload_urls?image_count=2", headers=headers)
            assert_error(answer, 403, DENIED, "limit")
            payloads = [make_jpeg(seed=2)]
            ids = stage(client, headers, payloads)  # 1 image and 1 unused URL: the limit
            answer = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
            assert_error(answer, 403, DENIED, "limit", "1 unused upload URLs")
            with container.database.transaction() as session:  # lowered after the URL was issued
                session.execute(update(User).values(image_upload_limit=1))
            answer = client.post("/api/v1/images", headers=headers, json=notify_body(ids, payloads))
            assert_error(answer, 403, DENIED, "limit")
        container.close()


class TestNotFound:
    def test_unknown_route_and_image(self, client: TestClient, headers: dict[str, str]) -> None:
        assert_error(client.get("/nowhere"), 404, MISSING)
        unknown = str(uuid.uuid4())
        answer = client.get(f"/api/v1/images/{unknown}/expanded", headers=headers)
        assert_error(answer, 404, MISSING, unknown, image_id=unknown)

    def test_no_account_yet(self, client: TestClient) -> None:
        client.post("/cas/signup", json={"email": "new@example.com", "password": PASSWORD})
        token = client.post(
            "/cas/loginSubmit", json={"email": "new@example.com", "password": PASSWORD}
        ).json()["token"]
        answer = client.get(
            "/api/v1/images/upload_urls?image_count=1", headers={"Authorization": f"Bearer {token}"}
        )
        assert_error(answer, 404, MISSING, "account")

    def test_nothing_uploaded_and_not_issued(
        self, client: TestClient, headers: dict[str, str]
    ) -> None:
        payload = make_jpeg()
        url = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers).json()[
            "image_upload_urls"
        ][0]
        answer = client.post(
            "/api/v1/images", headers=headers, json=notify_body([url["image_id"]], [payload])
        )
        assert_error(answer, 404, MISSING, url["image_id"], "uploaded", image_id=url["image_id"])
        stranger = str(uuid.uuid4())
        answer = client.post(
            "/api/v1/images", headers=headers, json=notify_body([stranger], [payload])
        )
        assert_error(answer, 404, MISSING, stranger, image_id=stranger)

    def test_delete_names_the_missing_id(self, client: TestClient, headers: dict[str, str]) -> None:
        mine = upload(client, headers, [make_jpeg()])[0]["id"]
        stranger = str(uuid.uuid4())
        answer = client.delete(f"/api/v1/images?id={mine}&id={stranger}", headers=headers)
        assert_error(answer, 404, MISSING, stranger, image_id=stranger)
        assert client.get(f"/api/v1/images/{mine}/expanded", headers=headers).status_code == 200


class TestConflict:
    def test_user_exists(self, client: TestClient, headers: dict[str, str]) -> None:
        answer = client.post("/api/v1/users", headers=headers)
        assert_error(answer, 409, CONFLICT, "User with provided id already exists")
        assert (
            answer.json()["detail"]
            == "Ensure that the provided resource id and user id are correct"
        )

    def test_email_taken(self, client: TestClient, headers: dict[str, str]) -> None:
        answer = client.post(
            "/cas/signup", json={"email": "Owner@example.com", "password": PASSWORD}
        )
        assert_error(answer, 409, CONFLICT)

    def test_already_confirmed(self, client: TestClient, headers: dict[str, str]) -> None:
        payload = make_jpeg()
        ids = stage(client, headers, [payload])
        assert (
            client.post(
                "/api/v1/images", headers=headers, json=notify_body(ids, [payload])
            ).status_code
            == 201
        )
        answer = client.post("/api/v1/images", headers=headers, json=notify_body(ids, [payload]))
        assert_error(answer, 409, CONFLICT, ids[0], image_id=ids[0])


class TestTooLarge:
    def test_put_refused_from_content_length(self, tmp_path: Path) -> None:
        container = make_container(make_settings(tmp_path, max_image_bytes=1000))
        with app_client(container) as client:
            headers = auth(client, "big@example.com")
            url = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers).json()[
                "image_upload_urls"
            ][0]
            answer = client.put(url["url"], content=b"x" * 1001)
            too_large = "Resource size exceeds upload limit"
            assert_error(answer, 413, too_large, "1000 bytes", image_id=url["image_id"])

            def stream() -> Iterator[bytes]:
                yield b"y" * 600
                yield b"y" * 600

            answer = client.put(url["url"], content=stream())
            assert_error(answer, 413, too_large, image_id=url["image_id"])
            assert list(container.store.list("")) == []
        container.close()

    def test_notify_checks_size(
        self, client: TestClient, container: Container, headers: dict[str, str]
    ) -> None:
        url = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers).json()[
            "image_upload_urls"
        ][0]
        store = container.local_store
        assert store is not None
        key = staging_key(uuid.UUID(user_id(client, headers)), uuid.UUID(url["image_id"]))
        big = make_jpeg() + b"\0" * (container.settings.max_image_bytes)
        writer = store.open_writer(key)  # bypasses the PUT route's own limit, as S3 would
        writer.write(big)
        writer.commit()
        answer = client.post(
            "/api/v1/images", headers=headers, json=notify_body([url["image_id"]], [big])
        )
        assert_error(
            answer, 413, "Resource size exceeds upload limit", "20.0 MiB", image_id=url["image_id"]
        )


class TestUnsupportedMedia:
    @pytest.mark.parametrize(
        ("payload", "detected"),
        [
            (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "pdf"),
            (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "svg"),
            (b"<!DOCTYPE html><html></html>", "html"),
            (make_jpeg(200, 200)[:400], "jpeg"),
        ],
    )
    def test_not_an_image(
        self, client: TestClient, headers: dict[str, str], payload: bytes, detected: str
    ) -> None:
        ids = stage(client, headers, [payload])
        answer = client.post("/api/v1/images", headers=headers, json=notify_body(ids, [payload]))
        unsupported = "Resource media type is unsupported"
        assert_error(answer, 415, unsupported, ids[0], detected, image_id=ids[0])

    def test_decompression_bomb(self, tmp_path: Path) -> None:
        container = make_container(make_settings(tmp_path, max_image_pixels=1000))
        with app_client(container) as client:
            headers = auth(client, "bomb@example.com")
            payload = make_jpeg(100, 100)
            ids = stage(client, headers, [payload])
            answer = client.post(
                "/api/v1/images", headers=headers, json=notify_body(ids, [payload])
            )
            unsupported = "Resource media type is unsupported"
            assert_error(answer, 415, unsupported, "megapixel", image_id=ids[0])
        container.close()


def test_hash_mismatch(client: TestClient, headers: dict[str, str]) -> None:
    payload = make_jpeg()
    ids = stage(client, headers, [payload])
    body = notify_body(ids, [payload])
    body["images"][0]["hash"] = md5(b"something else")
    answer = client.post("/api/v1/images", headers=headers, json=body)
    assert_error(answer, 422, "Resource hash mismatch", ids[0], image_id=ids[0])
    # Nothing was lost: the right hash still confirms it.
    assert (
        client.post("/api/v1/images", headers=headers, json=notify_body(ids, [payload])).status_code
        == 201
    )


def test_login_rate_limit(tmp_path: Path) -> None:
    container = make_container(make_settings(tmp_path, login_attempts_per_minute=3))
    with app_client(container) as client:
        body = {"email": "slow@example.com", "password": "wrong password"}
        for _ in range(3):
            assert client.post("/cas/loginSubmit", json=body).status_code == 401
        answer = client.post("/cas/loginSubmit", json=body)
        assert_error(answer, 429, "Too many requests", "slow@example.com")
        assert int(answer.headers["retry-after"]) >= 1
    container.close()


def test_batch_is_all_or_nothing(
    client: TestClient, container: Container, headers: dict[str, str]
) -> None:
    good, bad = make_jpeg(seed=1), b"%PDF-1.4 not an image"
    ids = stage(client, headers, [good, bad])
    answer = client.post("/api/v1/images", headers=headers, json=notify_body(ids, [good, bad]))
    assert_error(answer, 415, "Resource media type is unsupported", ids[1], image_id=ids[1])
    assert client.get("/api/v1/images/private/summary", headers=headers).json()["images"] == []
    assert not any(info.key.startswith("users/") for info in container.store.list(""))
    # The good one alone still goes through.
    alone = client.post("/api/v1/images", headers=headers, json=notify_body(ids[:1], [good]))
    assert alone.status_code == 201
