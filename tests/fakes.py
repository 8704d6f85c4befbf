"""In-memory fakes of the ports (object store, search index, job queue) for fast service tests,
and the unit of work an entrypoint wraps around a service call (FakeUnitOfWork).

Each fake is held to its real adapter by a contract test that runs the same assertions on both
(tests/unit/test_store_contract.py, tests/integration/test_search_contract.py and
test_queue_contract.py), so a fake cannot drift from what the services meet in production.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, BinaryIO, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bitimage.db.migrate import upgrade
from bitimage.db.session import create_db_engine, discard_after_commit, run_after_commit
from bitimage.queue.ports import ReservedJob
from bitimage.search.ports import InvalidCursor, SearchEntry, SearchPage, SearchQuery
from bitimage.storage.keys import is_valid_key
from bitimage.storage.local import InvalidKey
from bitimage.storage.ports import ObjectChanged, ObjectInfo, StoreUnavailable


@dataclass(frozen=True)
class _Stored:
    data: bytes
    md5: str
    modified_at: datetime
    etag: str


class MemoryStore:
    """An ObjectStore in a dict, with the local store's rules (pin moves, keys are checked).

    Every version gets its own etag, as on S3, so a stale pinned read raises ObjectChanged.
    `unavailable = True` makes every call raise StoreUnavailable. URLs are `memory://` URLs
    carrying a random grant that `grant()` resolves back to its key.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.objects: dict[str, _Stored] = {}
        self.unavailable = False
        self.synced: list[str] = []
        # What put() was given for each key: S3 keeps both on the object.
        self.headers: dict[str, tuple[str, str | None]] = {}
        self._clock = clock
        self._grants: dict[str, tuple[str, str, float]] = {}

    def _key(self, key: str) -> str:
        if self.unavailable:
            raise StoreUnavailable("the memory store is switched off")
        if not is_valid_key(key):
            raise InvalidKey(key)
        return key

    def _get(self, key: str, etag: str | None = None) -> _Stored:
        stored = self.objects.get(self._key(key))
        if stored is None:
            raise FileNotFoundError(key)
        if etag is not None and stored.etag != etag:
            raise ObjectChanged(key)
        return stored

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        cache_control: str | None = None,
    ) -> None:
        """Store `data` at `key`, as a finished upload (or the service's own write) does."""
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        stored = _Stored(data, digest, datetime.now(UTC), secrets.token_hex(8))
        self.objects[self._key(key)] = stored
        self.headers[key] = (content_type, cache_control)

    def _presign(self, method: str, key: str, ttl_seconds: int) -> str:
        token = secrets.token_urlsafe(16)
        self._grants[token] = (method, self._key(key), self._clock() + ttl_seconds)
        return f"memory://store/{quote(key)}?grant={token}"

    def grant(self, url: str, method: str, now: float | None = None) -> str | None:
        """The key `url` lets `method` reach at `now`, or None if it lets nothing."""
        parts = urlsplit(url)
        token = parse_qs(parts.query).get("grant", [""])[0]
        granted = self._grants.get(token)
        if granted is None or parts.scheme != "memory":
            return None
        allowed, key, expires = granted
        moment = self._clock() if now is None else now
        if allowed != method or moment > expires or unquote(parts.path[1:]) != key:
            return None
        return key

    def presign_put(self, key: str, ttl_seconds: int) -> str:
        """A URL `grant()` accepts for a PUT to `key` until it expires."""
        return self._presign("PUT", key, ttl_seconds)

    def presign_get(self, key: str, ttl_seconds: int) -> str:
        """A URL `grant()` accepts for a GET of `key` until it expires."""
        return self._presign("GET", key, ttl_seconds)

    def presign_gets(self, keys: Sequence[str], ttl_seconds: int) -> list[str]:
        """One URL per key, as presign_get gives."""
        return [self._presign("GET", key, ttl_seconds) for key in keys]

    def stat(self, key: str) -> ObjectInfo | None:
        """Size, MD5, time and version of the object, or None."""
        stored = self.objects.get(self._key(key))
        if stored is None:
            return None
        return ObjectInfo(key, len(stored.data), stored.md5, stored.modified_at, stored.etag)

    def pin(self, key: str, private_key: str) -> ObjectInfo | None:
        """Move `key` to `private_key` unless an earlier pin is there (the local store's rule)."""
        if self.objects.get(self._key(private_key)) is None:
            stored = self.objects.pop(self._key(key), None)
            if stored is None:
                return None
            self.objects[private_key] = stored
        return self.stat(private_key)

    def read_range(self, key: str, start: int, length: int, etag: str | None = None) -> bytes:
        """Up to `length` bytes from `start` (negative: from the end)."""
        data = self._get(key, etag).data
        begin = max(0, len(data) + start) if start < 0 else start
        return data[begin : begin + length]

    def open(self, key: str) -> BinaryIO:
        """The object's bytes as a seekable file."""
        return io.BytesIO(self._get(key).data)

    def md5(self, key: str, etag: str | None = None) -> str:
        """The object's MD5."""
        return self._get(key, etag).md5

    def copy(self, source: str, destination: str, etag: str | None = None) -> None:
        """Copy `source` (that version, given `etag`) over `destination`."""
        stored = self._get(source, etag)
        self.objects[self._key(destination)] = replace(stored, etag=secrets.token_hex(8))

    def delete(self, keys: Iterable[str]) -> None:
        """Delete these objects; missing ones are fine."""
        for key in keys:
            self.objects.pop(self._key(key), None)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; how many."""
        keys = [info.key for info in self.list(prefix)]
        self.delete(keys)
        return len(keys)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`."""
        if self.unavailable:
            raise StoreUnavailable("the memory store is switched off")
        for key in [k for k in self.objects if k.startswith(prefix)]:
            info = self.stat(key)
            if info is not None:
                yield info

    def sync(self, keys: Iterable[str]) -> None:
        """Record the keys: memory has no disk, but tests may check what was synced."""
        self.synced.extend(self._key(key) for key in keys)

    def ping(self) -> None:
        """Raise StoreUnavailable while switched off."""
        if self.unavailable:
            raise StoreUnavailable("the memory store is switched off")


class RecordingSearchIndex:
    """A SearchIndex over a dict that records every call; it never touches the session.

    Owners and privacy live in the images table, which the fake does not read: it sees every
    indexed image. Filters match as case-insensitive substrings (name, tag, label, text);
    `hash` and `min_confidence` need the database and raise NotImplementedError.
    """

    def __init__(self) -> None:
        self.entries: dict[uuid.UUID, SearchEntry] = {}
        self.calls: list[tuple[str, Any]] = []

    def index(self, session: Session, entries: Sequence[SearchEntry]) -> None:
        """Add or replace these images' text."""
        self.calls.append(("index", list(entries)))
        for entry in entries:
            self.entries[entry.image_id] = entry

    def remove(self, session: Session, image_ids: Sequence[uuid.UUID]) -> None:
        """Forget these images."""
        self.calls.append(("remove", list(image_ids)))
        for image_id in image_ids:
            self.entries.pop(image_id, None)

    def rescope(self, session: Session, image_ids: Sequence[uuid.UUID]) -> None:
        """Scope lives in the images table, which the fake does not read: recorded only."""
        self.calls.append(("rescope", list(image_ids)))

    def search(self, session: Session, query: SearchQuery) -> SearchPage:
        """Matching ids in indexing order, paged by an offset cursor tied to the query."""
        self.calls.append(("search", query))
        if query.hash is not None or query.min_confidence is not None:
            raise NotImplementedError("hash and confidence filters need the real index")
        matches = [e.image_id for e in self.entries.values() if _matches(e, query)]
        start = _offset(query)
        page = matches[start : start + query.limit]
        more = start + query.limit < len(matches)
        cursor = f"{_fingerprint(query)}:{start + query.limit}" if more else None
        return SearchPage(page, cursor)


def _matches(entry: SearchEntry, query: SearchQuery) -> bool:
    def has(term: str | None, values: Iterable[str]) -> bool:
        return term is None or any(term.lower() in value.lower() for value in values)

    return (
        has(query.name, [entry.name])
        and has(query.tag, entry.tags)
        and has(query.label, entry.labels)
        and has(query.text, [entry.text])
    )


def _fingerprint(query: SearchQuery) -> str:
    shape = repr(replace(query, cursor=None)).encode()
    return hashlib.sha256(shape).hexdigest()[:16]


def _offset(query: SearchQuery) -> int:
    if query.cursor is None:
        return 0
    fingerprint, _, offset = query.cursor.partition(":")
    if fingerprint != _fingerprint(query) or not offset.isdigit():
        raise InvalidCursor("the cursor is malformed or belongs to another query")
    return int(offset)


@dataclass
class FakeJob:
    """One job and its state, as the jobs table keeps it."""

    id: uuid.UUID
    kind: str
    image_id: uuid.UUID | None
    payload: dict[str, Any]
    state: str = "queued"
    attempts: int = 0
    available_at: float = 0.0
    reserved_until: float | None = None
    last_error: str | None = None


@dataclass
class FakeJobQueue:
    """A JobQueue in a dict with the db queue's rules: leases of `ttr_seconds`, delays, bury.

    reserve() never waits: with nothing ready it answers None at once, whatever the timeout.
    """

    ttr_seconds: float = 300.0
    clock: Callable[[], float] = time.monotonic
    jobs: dict[uuid.UUID, FakeJob] = field(default_factory=dict)
    deleted: list[uuid.UUID] = field(default_factory=list)

    def put(self, kind: str, image_id: uuid.UUID | None, payload: dict[str, Any]) -> uuid.UUID:
        """Queue a job, ready now."""
        job = FakeJob(uuid.uuid4(), kind, image_id, dict(payload), available_at=self.clock())
        self.jobs[job.id] = job
        return job.id

    def reserve(self, timeout_seconds: float) -> ReservedJob | None:
        """Take the job ready longest (or whose lease ran out), or None."""
        now = self.clock()
        ready = [
            job
            for job in self.jobs.values()
            if (job.state == "queued" and job.available_at <= now)
            or (job.state == "reserved" and (job.reserved_until or now) < now)
        ]
        if not ready:
            return None
        job = min(ready, key=lambda j: j.available_at)
        job.state, job.reserved_until = "reserved", now + self.ttr_seconds
        job.attempts += 1
        return ReservedJob(job.id, job.kind, job.image_id, dict(job.payload), job.attempts)

    def delete(self, job: ReservedJob) -> None:
        """The job is done."""
        if self.jobs.pop(job.id, None) is not None:
            self.deleted.append(job.id)

    def release(self, job: ReservedJob, delay_seconds: float, error: str) -> None:
        """Ready again after `delay_seconds`."""
        held = self.jobs[job.id]
        held.state, held.reserved_until = "queued", None
        held.available_at, held.last_error = self.clock() + delay_seconds, error

    def bury(self, job: ReservedJob, error: str) -> None:
        """Set aside for good."""
        held = self.jobs[job.id]
        held.state, held.reserved_until, held.last_error = "buried", None, error


T = TypeVar("T")


def memory_engine() -> Engine:
    """A migrated in-memory SQLite database (one connection per thread, so one per test thread)."""
    # create_db_engine keeps the real engine's pragmas and BEGIN IMMEDIATE; for `sqlite://`
    # SQLAlchemy pools one connection per thread, which keeps the database alive between
    # sessions as StaticPool would, for tests that stay in their thread.
    engine = create_db_engine("sqlite://")
    upgrade(engine)
    return engine


@dataclass
class FakeUnitOfWork:
    """What an entrypoint (deps.write_session) does around a service call, and what it saw.

    Opens a session, hands it to `work`, commits and then runs the after-commit hooks; on an
    error rolls back, drops the hooks and runs the on-rollback ones.
    """

    engine: Engine
    commits: int = 0
    rollbacks: int = 0

    def __call__(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one unit of work, as a request's dependency does."""
        with sessionmaker(self.engine, expire_on_commit=False)() as session:
            try:
                result = work(session)
                session.commit()
            except BaseException:
                session.rollback()
                self.rollbacks += 1
                discard_after_commit(session)
                raise
            self.commits += 1
            run_after_commit(session)
        return result
