"""Durable bytes: a PUT's file, and a confirm's folder entries, reach the disk before the answer.

The store's syncs are recorded (its `fsync` method, the one place it syncs), with what each
synced; the database's commits are recorded beside them (SQLAlchemy's commit event, fired
before the COMMIT is sent). A power cut can only lose what was not synced: a confirmed row
must never be committed before the bytes and the folder entries it points to.
"""

from __future__ import annotations

import os
import stat
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from bitimage.bootstrap import Container
from bitimage.db.session import Database, create_db_engine
from bitimage.storage.keys import permanent_key, staging_key
from bitimage.storage.local import LocalSignedStore
from bitimage.storage.signing import UrlSigner
from tests.support import auth, make_jpeg, notify_body, stage, user_id


@dataclass(frozen=True)
class Synced:
    """One fsync of the store: a folder (its path) or a file (its inode)."""

    path: Path
    inode: int
    folder: bool


class Recorder:
    """Records the store's syncs and the database's commits, in the order they happen."""

    def __init__(self, store: LocalSignedStore) -> None:
        self.events: list[Synced | str] = []
        self.durable: dict[int, bool] = {}  # index of a commit in events -> waited for disk

        def fsync(fd: int) -> None:
            info = os.fstat(fd)
            path = Path(os.readlink(f"/proc/self/fd/{fd}"))
            self.events.append(Synced(path, info.st_ino, stat.S_ISDIR(info.st_mode)))
            os.fsync(fd)

        self.fsync = fsync

    def commit(self, conn: Any) -> None:
        # Whether this commit waits for the disk, read on its own connection.
        raw = conn.connection.dbapi_connection
        if conn.dialect.name == "sqlite":  # 2 FULL: synced; 1 NORMAL: not
            durable = raw.execute("PRAGMA synchronous").fetchone()[0] == 2
        else:
            durable = raw.execute("SHOW synchronous_commit").fetchone()[0] == "on"
        self.durable[len(self.events)] = durable
        self.events.append("commit")

    def synced_before(self, index: int) -> list[Synced]:
        return [e for e in self.events[:index] if isinstance(e, Synced)]


@pytest.fixture
def recorder(container: Container, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    assert isinstance(container.store, LocalSignedStore)
    recording = Recorder(container.store)
    monkeypatch.setattr(container.store, "fsync", recording.fsync, raising=False)
    event.listen(container.database.engine, "commit", recording.commit)
    return recording


def test_a_put_is_synced_then_its_folder_entry_before_it_answers(
    client: TestClient, container: Container, recorder: Recorder
) -> None:
    headers = auth(client, "durable-put@example.com")
    owner = uuid.UUID(user_id(client, headers))
    [image_id] = stage(client, headers, [make_jpeg()])
    assert isinstance(container.store, LocalSignedStore)
    target = container.store.path_for(staging_key(owner, uuid.UUID(image_id)))
    syncs = [e for e in recorder.events if isinstance(e, Synced)]
    files = [s for s in syncs if not s.folder]
    # The file's bytes while it was still a temporary file, then the rename into place.
    assert [s.inode for s in files] == [target.stat().st_ino]
    assert files[0].path.parent == container.store.root / ".tmp"
    assert syncs.index(files[0]) < max(
        n for n, s in enumerate(syncs) if s.folder and s.path == target.parent
    )


def test_a_confirm_syncs_bytes_and_folder_entries_before_it_commits(
    client: TestClient, container: Container, recorder: Recorder
) -> None:
    headers = auth(client, "durable-confirm@example.com")
    owner = uuid.UUID(user_id(client, headers))
    payloads = [make_jpeg(seed=n) for n in range(3)]
    ids = stage(client, headers, payloads)
    inserted: list[int] = []

    def mark_insert(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO IMAGES "):
            inserted.append(len(recorder.events))

    event.listen(container.database.engine, "before_cursor_execute", mark_insert)
    answer = client.post("/api/v1/images", headers=headers, json=notify_body(ids, payloads))
    assert answer.status_code == 201, answer.text
    assert len(inserted) == 1
    confirm_commit = recorder.events.index("commit", inserted[0])
    synced = recorder.synced_before(confirm_commit)
    store = container.store
    assert isinstance(store, LocalSignedStore)
    kept = [store.path_for(permanent_key(owner, uuid.UUID(i))) for i in ids]
    # Every confirmed file's bytes (synced by its PUT: the permanent key is a link to them)...
    assert {p.stat().st_ino for p in kept} <= {s.inode for s in synced if not s.folder}
    # ...and, after the rows were written, the folder of the links, synced once for the group
    # (the pinned moves are not: those entries go after the commit).
    since_insert = [
        e for e in recorder.events[inserted[0] : confirm_commit] if isinstance(e, Synced)
    ]
    assert [s.path for s in since_insert if s.folder] == [kept[0].parent]
    # The confirm's commit waits for the disk; the claim's before it need not (it was the
    # notify's first commit, and a lost claim only reopens the grants).
    assert recorder.durable[confirm_commit]
    commits = [n for n, e in enumerate(recorder.events) if e == "commit"]
    assert not recorder.durable[commits[commits.index(confirm_commit) - 1]]


def test_a_copy_that_cannot_link_syncs_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalSignedStore(tmp_path, UrlSigner(b"k" * 32), "http://127.0.0.1:8000")
    recording = Recorder(store)
    monkeypatch.setattr(store, "fsync", recording.fsync, raising=False)
    user, image = uuid.uuid4(), uuid.uuid4()
    writer = store.open_writer(staging_key(user, image))
    writer.write(b"\xff\xd8 some bytes")
    writer.commit()

    def no_links(*_: Any) -> None:
        raise OSError("this filesystem has no hard links")

    monkeypatch.setattr(os, "link", no_links)
    kept = permanent_key(user, image)
    store.copy(staging_key(user, image), kept)
    store.sync([kept])
    copied = store.path_for(kept)
    synced = [e for e in recording.events if isinstance(e, Synced)]
    assert copied.stat().st_ino in {s.inode for s in synced if not s.folder}
    assert synced[-1] == Synced(copied.parent, copied.parent.stat().st_ino, True)


def test_sqlite_commits_are_synced_unless_asked_not_to(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'durable.sqlite3'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    database = Database(engine)
    level = text("PRAGMA synchronous")
    # One pooled connection serves them all in turn: each transaction sets its own level.
    for durable, write, expected in [(False, True, 1), (True, True, 2), (False, True, 1),
                                     (True, False, 2), (True, True, 2)]:  # fmt: skip
        with database.transaction(write=write, durable=durable) as session:
            assert session.execute(level).scalar() == expected, (durable, write)
    engine.dispose()


def test_concurrent_first_uploads_of_a_user_all_land(tmp_path: Path) -> None:
    """Each makes the user's folder if it is missing (check, then mkdir): none may fail."""
    store = LocalSignedStore(tmp_path, UrlSigner(b"k" * 32), "http://127.0.0.1:8000")
    threads = 8
    barrier = threading.Barrier(threads)  # the commits (and their folder checks) start together

    def upload(key: str) -> str:
        writer = store.open_writer(key)
        writer.write(key.encode())
        barrier.wait()
        return writer.commit()

    for _ in range(25):
        user = uuid.uuid4()
        keys = [staging_key(user, uuid.uuid4()) for _ in range(threads)]
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(upload, keys))
        assert all(store.path_for(key).read_bytes() == key.encode() for key in keys)
