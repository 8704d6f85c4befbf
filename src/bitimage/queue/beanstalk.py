"""BeanstalkJobQueue: analysis jobs in a Beanstalkd tube (beanstalk://host:port/tube)."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import greenstalk

from bitimage.queue.outbox import JOB_SCHEMA_VERSION
from bitimage.queue.ports import QueueStats, QueueUnavailable, ReservedJob

log = logging.getLogger("bitimage.queue")

T = TypeVar("T")
Client = greenstalk.Client[bytes]

DEFAULT_PORT = 11300
DEFAULT_TUBE = "image_messages"
BEANSTALK_ID = "_beanstalk_id"  # payload key carrying the broker's id of a reserved job
_TUBE_NAME = re.compile(r"[A-Za-z0-9+/;.$_()][A-Za-z0-9+/;.$_()-]{0,199}")
# Answers that describe a job, not a broken connection; callers handle them.
_ANSWERS = (greenstalk.NotFoundError, greenstalk.TimedOutError, greenstalk.DeadlineSoonError)


TubeStats = QueueStats  # the name its tests and callers knew it by


class _Connection:
    """One socket and its greenstalk client, using and watching only our tube."""

    def __init__(self, host: str, port: int, tube: str, timeout: float) -> None:
        # Our own socket, so connecting and every command have a timeout (greenstalk sets none).
        self.sock = socket.create_connection((host, port), timeout=timeout)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            # Bytes bodies: a body that is not UTF-8 must reach us to be buried, not fail decoding.
            self.client: Client = greenstalk.Client(self.sock, encoding=None, use=tube, watch=tube)
        except BaseException:
            self.sock.close()
            raise
        self.proven = False  # a command succeeded on it: a later failure may be a stale socket

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in reserve on it
        self.client.close()


class BeanstalkJobQueue:
    """JobQueue and outbox publisher on one Beanstalkd tube, one connection per thread.

    Beanstalkd ties a reservation to the connection that made it, so delete, release and bury
    must be called from the thread that reserved the job.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        tube: str = DEFAULT_TUBE,
        ttr_seconds: float = 300,
        connect_timeout: float = 5.0,
        priority: int = greenstalk.DEFAULT_PRIORITY,
    ) -> None:
        if not _TUBE_NAME.fullmatch(tube):
            raise ValueError(f"not a beanstalkd tube name: {tube!r}")
        self.host, self.port, self.tube = host, port, tube
        self._ttr = max(1, math.ceil(ttr_seconds))
        self._timeout = connect_timeout
        self._priority = priority
        self._lock = threading.Lock()
        # Keyed by thread rather than threading.local so close() reaches every connection.
        self._connections: dict[threading.Thread, _Connection] = {}
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> BeanstalkJobQueue:
        """A queue for `beanstalk://host[:port][/tube]`."""
        parts = urlsplit(url)
        if parts.scheme != "beanstalk" or not parts.hostname:
            raise ValueError(f"not a beanstalk://host:port/tube URL: {url!r}")
        tube = parts.path.strip("/") or DEFAULT_TUBE
        return cls(parts.hostname, parts.port or DEFAULT_PORT, tube, **options)

    def reserve(self, timeout_seconds: float) -> ReservedJob | None:
        """Take the next ready job, or None after `timeout_seconds` (rounded up to whole s)."""
        deadline = time.monotonic() + max(0.0, timeout_seconds)
        while True:
            wait = max(0, math.ceil(deadline - time.monotonic()))
            try:
                raw, reserves = self._call(functools.partial(_reserve, wait=wait), wait)
            except (greenstalk.TimedOutError, greenstalk.DeadlineSoonError):
                return None
            job = _decode(raw.id, raw.body, reserves)
            if job is not None:
                return job
            self._bury_unreadable(raw)

    def _bury_unreadable(self, raw: greenstalk.Job[bytes]) -> None:
        # A body we cannot read would fail every worker the same way: set it aside.
        log.warning("burying beanstalk job %d: not a v%d job body", raw.id, JOB_SCHEMA_VERSION)
        with contextlib.suppress(greenstalk.NotFoundError):  # its ttr ran out meanwhile
            self._call(lambda c: c.bury(raw, self._priority))

    def delete(self, job: ReservedJob) -> None:
        """The job is done: remove it from the tube."""
        beanstalk_id = _beanstalk_id(job)
        try:
            self._call(lambda c: c.delete(beanstalk_id))
        except greenstalk.NotFoundError:
            # Its ttr ran out and another worker holds it; analysis is idempotent, so that is fine.
            log.info("job %s was no longer ours to delete; it may run again", job.id)

    def release(self, job: ReservedJob, delay_seconds: float, error: str) -> None:
        """Put the job back, ready again after `delay_seconds` (rounded up to whole seconds)."""
        target = greenstalk.Job(_beanstalk_id(job), b"")
        delay = max(0, math.ceil(delay_seconds))
        log.info("job %s released for %d s: %s", job.id, delay, error)
        try:
            self._call(lambda c: c.release(target, priority=self._priority, delay=delay))
        except greenstalk.NotFoundError:
            log.info("job %s was already back in the tube (its ttr ran out)", job.id)

    def bury(self, job: ReservedJob, error: str) -> None:
        """Set the job aside in the tube's buried list (beanstalkd keeps no error text: logged)."""
        target = greenstalk.Job(_beanstalk_id(job), b"")
        log.warning("burying job %s: %s", job.id, error)

        def bury(client: Client) -> None:
            try:
                client.bury(target, self._priority)
            except greenstalk.NotFoundError:
                # Our reservation lapsed but the job may be ready again: take it back to bury it.
                client.reserve_job(target.id)
                client.bury(target, self._priority)

        try:
            self._call(bury)
        except greenstalk.NotFoundError:
            log.warning("job %s could not be buried: another worker holds it", job.id)

    def put(self, body: dict[str, Any], delay: float = 0) -> None:
        """Add a job with this JSON body to the tube."""
        data = json.dumps(body, separators=(",", ":")).encode()
        wait = max(0, math.ceil(delay))
        self._call(lambda c: c.put(data, priority=self._priority, delay=wait, ttr=self._ttr))

    def ping(self) -> None:
        """Return if beanstalkd answers, else raise QueueUnavailable."""
        self._call(lambda c: c.using())

    def stats(self) -> TubeStats:
        """The tube's job counts by state."""
        try:
            found = self._call(lambda c: c.stats_tube(self.tube))
        except greenstalk.NotFoundError:
            return TubeStats(0, 0, 0, 0)  # a tube exists only while used or holding jobs
        return TubeStats(
            found["current-jobs-ready"],
            found["current-jobs-delayed"],
            found["current-jobs-reserved"],
            found["current-jobs-buried"],
        )

    def close(self) -> None:
        """Close every thread's connection; beanstalkd returns their reserved jobs at once."""
        with self._lock:
            self._closed = True
            connections = list(self._connections.values())
            self._connections.clear()
        for connection in connections:
            connection.close()

    def _call(self, command: Callable[[Client], T], wait: float = 0.0) -> T:
        for attempt in range(2):
            connection: _Connection | None = None
            try:
                connection = self._connection()
                connection.sock.settimeout(wait + self._timeout)
                result = command(connection.client)
            except _ANSWERS:
                if connection is not None:
                    connection.proven = True
                raise
            except (OSError, greenstalk.Error) as exc:
                if connection is not None:
                    self._drop(connection)
                    # beanstalkd restarted since our last command: one retry on a new socket.
                    if connection.proven and attempt == 0:
                        continue
                raise QueueUnavailable(f"beanstalkd {self.host}:{self.port}: {exc!r}") from exc
            connection.proven = True
            return result
        raise AssertionError("unreachable")

    def _connection(self) -> _Connection:
        thread = threading.current_thread()
        with self._lock:
            if self._closed:
                raise QueueUnavailable("the beanstalk queue is closed")
            found = self._connections.get(thread)
        if found is not None:
            return found
        connection = _Connection(self.host, self.port, self.tube, self._timeout)
        with self._lock:
            if self._closed:
                connection.close()
                raise QueueUnavailable("the beanstalk queue is closed")
            # Threads that ended leave their sockets here; closing them returns their jobs.
            for ended in [t for t in self._connections if not t.is_alive()]:
                self._connections.pop(ended).close()
            self._connections[thread] = connection
        return connection

    def _drop(self, connection: _Connection) -> None:
        with self._lock:
            thread = threading.current_thread()
            if self._connections.get(thread) is connection:
                del self._connections[thread]
        connection.close()


def _reserve(client: Client, wait: int) -> tuple[greenstalk.Job[bytes], int]:
    job = client.reserve(timeout=wait)
    return job, client.stats_job(job)["reserves"]


def _decode(beanstalk_id: int, body: bytes, reserves: int) -> ReservedJob | None:
    """The job in a v1 body, or None when the body is not one."""
    try:
        data = json.loads(body)
        version = data["v"]
        if isinstance(version, bool) or version != JOB_SCHEMA_VERSION:
            return None
        kind = data["kind"]
        image = data.get("image_id")
        job_id = uuid.UUID(data["job_id"])
        image_id = None if image is None else uuid.UUID(image)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not isinstance(kind, str) or not kind:
        return None
    payload = {k: v for k, v in data.items() if k not in ("job_id", "kind")}
    payload[BEANSTALK_ID] = beanstalk_id
    return ReservedJob(job_id, kind, image_id, payload, reserves)


def _beanstalk_id(job: ReservedJob) -> int:
    beanstalk_id = job.payload.get(BEANSTALK_ID)
    if not isinstance(beanstalk_id, int):
        raise ValueError(f"job {job.id} was not reserved from beanstalkd")
    return beanstalk_id
