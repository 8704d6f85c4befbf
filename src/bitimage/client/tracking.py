"""Book-keeping of an upload run: its files and the progress counts, shared by worker threads."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bitimage.client.models import TagIn
from bitimage.client.results import FileOutcome, ProgressCallback, Status, UploadProgress


@dataclass(eq=False)
class Item:
    """One file of an upload run, and what became of it."""

    label: str
    name: str
    tags: list[TagIn]
    is_private: bool
    path: Path | None = None
    handle: IO[bytes] | None = None
    owned: bool = False  # handle is a spool file of ours, closed at the end
    size: int = 0
    mtime_ns: int = 0
    md5: str | None = None
    sent: int = 0  # bytes counted for progress so far
    outcome: FileOutcome | None = field(default=None)


class Tracker:
    """Counts for progress, updated from worker threads."""

    def __init__(self, callback: ProgressCallback | None, files: int, size: int) -> None:
        self.callback = callback
        self.lock = threading.Lock()
        self.files_total, self.files_done = files, 0
        self.bytes_total, self.bytes_done = size, 0
        self.bytes_hashed = self.bytes_sent = self.bytes_unsent = 0

    def _emit(self, outcome: FileOutcome | None = None) -> None:
        if self.callback is not None:
            self.callback(
                UploadProgress(
                    self.files_total, self.files_done, self.bytes_total, self.bytes_done, outcome,
                    bytes_hashed=self.bytes_hashed, bytes_sent=self.bytes_sent,
                    bytes_to_send=self.bytes_total - self.bytes_unsent,
                )
            )  # fmt: skip

    def hashed(self, count: int) -> None:
        """Count bytes read to compute a file's MD5 before sending it."""
        with self.lock:
            self.bytes_hashed += count
            self._emit()

    def sent(self, item: Item, count: int) -> None:
        """Count bytes of a file sent (negative: a retry starts over)."""
        with self.lock:
            item.sent += count
            self.bytes_done += count
            self.bytes_sent += count
            self._emit()

    def finish(
        self, item: Item, status: Status, reason: str | None = None, image: uuid.UUID | None = None
    ) -> None:
        """Record a file's outcome; its bytes all count as done from now on."""
        with self.lock:
            self.bytes_done += item.size - item.sent
            if status != "uploaded":  # its bytes were not (all) sent and never will be
                self.bytes_unsent += item.size - item.sent
            item.sent = item.size
            item.outcome = FileOutcome(
                item.label, item.name, status, item.size, item.md5, image, reason
            )
            self.files_done += 1
            self._emit(item.outcome)
