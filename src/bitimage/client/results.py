"""What an upload takes (paths, file objects, UploadFile) and gives back (outcomes, progress)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from bitimage.client.selection import Ignored

Status = Literal["uploaded", "skipped", "failed"]


@dataclass(frozen=True)
class UploadFile:
    """One file to upload, with its own name, tags or privacy (None: the run's defaults)."""

    source: str | os.PathLike[str] | IO[bytes]
    name: str | None = None
    tags: Sequence[str] | None = None
    is_private: bool | None = None


Source = str | os.PathLike[str] | IO[bytes] | UploadFile


@dataclass
class FileOutcome:
    """What became of one file: uploaded, skipped (bytes already held) or failed (and why)."""

    source: str
    name: str
    status: Status
    size: int
    md5: str | None = None
    image_id: uuid.UUID | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "path": self.source,
            "name": self.name,
            "status": self.status,
            "size": self.size,
            "md5": self.md5,
            "image_id": str(self.image_id) if self.image_id else None,
            "reason": self.reason,
        }


@dataclass
class UploadReport:
    """Every file's outcome, in the order given, and the files left out (not images...)."""

    files: list[FileOutcome]
    ignored: list[Ignored] = field(default_factory=list)

    def _with(self, status: Status) -> list[FileOutcome]:
        return [outcome for outcome in self.files if outcome.status == status]

    @property
    def uploaded(self) -> list[FileOutcome]:
        """Files confirmed now."""
        return self._with("uploaded")

    @property
    def skipped(self) -> list[FileOutcome]:
        """Files whose bytes the account already held (or that repeat another file)."""
        return self._with("skipped")

    @property
    def failed(self) -> list[FileOutcome]:
        """Files that could not be read, uploaded or confirmed."""
        return self._with("failed")

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: counts, every file, and every file left out with its reason."""
        return {
            "uploaded": len(self.uploaded),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "ignored": len(self.ignored),
            "files": [outcome.to_json() for outcome in self.files],
            "ignored_files": [entry.to_json() for entry in self.ignored],
        }


@dataclass(frozen=True)
class UploadProgress:
    """A snapshot for progress displays; `outcome` is set when a file has just finished.

    `bytes_done` counts bytes sent, plus the whole size of each file skipped or failed.
    Hashing (reading a file to ask whether the account holds it) and sending are counted apart:
    `bytes_hashed` of the files read before sending, `bytes_sent` of the PUTs, out of
    `bytes_to_send` (the total less the files settled without being sent).
    """

    files_total: int
    files_done: int
    bytes_total: int
    bytes_done: int
    outcome: FileOutcome | None = None
    bytes_hashed: int = 0
    bytes_sent: int = 0
    bytes_to_send: int = 0


ProgressCallback = Callable[[UploadProgress], None]


def image_name(stem: str) -> str:
    """A file's name without extension as an API image name: printable, 1 to 255 characters."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in stem)
    return " ".join(cleaned.split())[:255] or "image"
