"""Helpers shared by the tests: settings, containers, the app, real images, accounts, uploads."""

from __future__ import annotations

import hashlib
import io
import random
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import delete, event
from sqlalchemy.orm import Session

from bitimage.app import create_app
from bitimage.bootstrap import Container, bootstrap
from bitimage.config import Settings, load_settings
from bitimage.db.base import utcnow
from bitimage.db.migrate import upgrade
from bitimage.images.models import Image as ImageRow
from bitimage.images.models import ImageTag
from bitimage.images.repository import ImageRepository, scope_of
from bitimage.users.models import User

PASSWORD = "correct horse battery"

# Converted models are a cache keyed by version, written atomically: one for every test.
MODEL_CACHE = Path(tempfile.gettempdir()) / "bitimage-test-models"
FAST_HASHING = {"argon2_memory_kib": 8192, "argon2_time_cost": 1}


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: its own folder, cheap (still argon2id) hashing, no background thread."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "run_worker": False,
        "model_cache_dir": MODEL_CACHE,
        **FAST_HASHING,
    }
    values.update(overrides)
    return load_settings(**values)


def make_container(settings: Settings) -> Container:
    """A migrated container."""
    container = bootstrap(settings)
    upgrade(container.database.engine)
    return container


@contextmanager
def app_client(container: Container, **options: Any) -> Iterator[TestClient]:
    """Starlette's test client over the real app built on `container`, at the seed's base URL."""
    with TestClient(create_app(container), base_url="http://127.0.0.1:8000", **options) as client:
        yield client


def captured_sql(container: Container, run: Callable[[Session], object]) -> list[tuple[str, Any]]:
    """Each statement (its SQL and values) that `run` executes in a read transaction."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        seen.append((sql, params))

    engine = container.database.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with container.database.transaction(write=False) as session:
            run(session)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return seen


def make_jpeg(width: int = 64, height: int = 48, seed: int = 0, fmt: str = "JPEG") -> bytes:
    """A small real image whose bytes differ per seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), 90))
    for _ in range(20):
        x, y = rng.randrange(width), rng.randrange(height)
        image.putpixel((x, y), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def add_user(session: Any) -> uuid.UUID:
    """A new account's row (flushed), for tests that write images beside the rows."""
    owner = uuid.uuid4()
    session.add(User(id=owner, image_upload_count=0))
    session.flush()
    return owner


def add_image_row(session: Any, owner: uuid.UUID, name: str, is_private: bool = True) -> uuid.UUID:
    """An image row with no bytes behind it (flushed), for tests of what sits beside the rows."""
    image_id = uuid.uuid4()
    session.add(
        ImageRow(
            id=image_id,
            user_id=owner,
            name=name,
            hash="0" * 32,
            size_bytes=1,
            file_format="jpeg",
            width=1,
            height=1,
            is_private=is_private,
            storage_key=f"users/{owner}/{image_id}",
            analysis_status="pending",
            created_at=utcnow(),
        )
    )
    session.flush()
    return image_id


def set_tags(session: Any, image_id: uuid.UUID, names: list[str]) -> None:
    """Make `names` the tags of an image row, as notify links them (with the image's scope)."""
    repo = ImageRepository(session)
    session.execute(delete(ImageTag).where(ImageTag.image_id == image_id))
    image = repo.get(image_id)
    assert image is not None
    row = {"user_id": image.user_id, "created_at": image.created_at,
           "is_private": image.is_private, "moderation": image.moderation}  # fmt: skip
    ids = repo.ensure_tags(names)
    repo.link_tags([(image_id, ids[name]) for name in names], {image_id: scope_of(row)})


def md5(data: bytes) -> str:
    """Hex MD5."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def auth(client: Any, email: str) -> dict[str, str]:
    """Sign up, log in, create the Bit-image account; return the Authorization header."""
    assert (
        client.post("/cas/signup", json={"email": email, "password": PASSWORD}).status_code == 201
    )
    answer = client.post("/cas/loginSubmit", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 202, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    assert client.post("/api/v1/users", headers=headers).status_code == 201
    return headers


def user_id(client: Any, headers: dict[str, str]) -> str:
    """The caller's user id, from the CAS."""
    token = headers["Authorization"].split()[1]
    return str(client.post("/cas/authorizeUser", json={"token": token}).json()["user_id"])


def put_bytes(client: Any, url: str, data: bytes) -> Any:
    """PUT raw bytes to a signed URL of the local store (through the test client)."""
    return client.put(url, content=data)


def stage(client: Any, headers: dict[str, str], payloads: list[bytes]) -> list[str]:
    """Ask for URLs and PUT each payload; return the image ids."""
    answer = client.get(f"/api/v1/images/upload_urls?image_count={len(payloads)}", headers=headers)
    assert answer.status_code == 200, answer.text
    urls = answer.json()["image_upload_urls"]
    for entry, data in zip(urls, payloads, strict=True):
        assert put_bytes(client, entry["url"], data).status_code == 200
    return [entry["image_id"] for entry in urls]


def notify_body(ids: list[str], payloads: list[bytes], **extra: Any) -> dict[str, Any]:
    """A notify body for staged images, named img0, img1..."""
    return {
        "images": [
            {"id": i, "name": f"img{n}", "hash": md5(data), "is_private": True, "tags": [], **extra}
            for n, (i, data) in enumerate(zip(ids, payloads, strict=True))
        ]
    }


def upload(
    client: Any, headers: dict[str, str], payloads: list[bytes], **extra: Any
) -> list[dict[str, Any]]:
    """The whole flow for up to 5 images; return the confirmed summaries."""
    ids = stage(client, headers, payloads)
    answer = client.post(
        "/api/v1/images", headers=headers, json=notify_body(ids, payloads, **extra)
    )
    assert answer.status_code == 201, answer.text
    images: list[dict[str, Any]] = answer.json()["images"]
    return images


PHONE_HEIC = Path(__file__).parent / "images" / "phone.heic"


def phone_heic() -> bytes:
    """A 448x300 HEIC coded sideways (irot and EXIF orientation 6) with GPS (tests/images)."""
    return PHONE_HEIC.read_bytes()
