"""The batch uploader: hash, skip what the account holds, PUT in parallel, notify by fives.

Memory stays flat: files are read in pieces (to hash, then to PUT), never whole. Each file goes
through one pipeline on `concurrency` worker threads: its MD5 is computed from disk and looked
up among the account's images (an empty account needs no look-up, and then each file's MD5 is
computed while it is sent, so it is read once; an account with fewer than half as many images
as there are files is listed once; otherwise the private summary's `hash=` filter is asked),
then it is PUT to a pre-signed URL (URLs are asked for in chunks of at most 1000, sized by how
many files still look new) and confirmed in a batch of 5 as uploads finish. A batch the server
refuses names the offending image: that file is reported with the server's reason and the
others are confirmed again. With `skip_near_duplicates`, a file new by its MD5 is then checked
for a near copy (near.py) before any byte of it is sent.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from bitimage.client.errors import ApiError, BitimageError, NotLoggedIn
from bitimage.client.models import NotifyImage, TagIn, UploadUrl
from bitimage.client.near import NearDuplicates
from bitimage.client.notify import FATAL, confirm_batch, file_reason
from bitimage.client.ports import UploadClient
from bitimage.client.results import (
    FileOutcome,
    ProgressCallback,
    Source,
    UploadFile,
    UploadProgress,
    UploadReport,
    image_name,
)
from bitimage.client.selection import Ignored, select_files
from bitimage.client.tracking import Item, Tracker

__all__ = [
    "BatchUploader",
    "FileOutcome",
    "ProgressCallback",
    "Source",
    "UploadFile",
    "UploadProgress",
    "UploadReport",
    "select_files",
]

BATCH = 5  # images per notify (the API's limit)
URLS_PER_REQUEST = 1000  # the most upload URLs one request may ask for
HASH_CHUNK = 1024 * 1024


class BatchUploader:
    """Runs one upload of many files for a client; see the module docstring."""

    def __init__(
        self,
        client: UploadClient,
        *,
        tags: Sequence[str] = (),
        is_private: bool = True,
        concurrency: int = 8,
        progress: ProgressCallback | None = None,
        skip_near_duplicates: bool = False,
        max_distance: int | None = None,
    ) -> None:
        self.client = client
        # Near copies (client/near.py): off unless asked, since every new file is decoded.
        self._near = NearDuplicates(client, max_distance) if skip_near_duplicates else None
        self.tags = list(tags)
        self.is_private = is_private
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self._lock = threading.Lock()
        self._urls: deque[UploadUrl] = deque()
        self._urls_error: ApiError | None = None
        self._room: int | None = None  # images the account may still take (None: no limit)
        self._held: dict[str, uuid.UUID] | None = None  # MD5s held, when listed (None: ask)
        self._claimed: dict[str, Item] = {}  # MD5 -> the file of this run that uploads it
        self._unchecked = 0  # files not yet known to be new or held
        self._checked = self._new = 0
        self._pending: list[tuple[Item, NotifyImage]] = []

    def _item(self, source: Source) -> Item:
        spec = source if isinstance(source, UploadFile) else UploadFile(source)
        tags = [TagIn(name=t) for t in (self.tags if spec.tags is None else spec.tags)]
        private = self.is_private if spec.is_private is None else spec.is_private
        if isinstance(spec.source, (str, os.PathLike)):
            path = Path(spec.source)
            item = Item(str(path), image_name(spec.name or path.stem), tags, private, path)
            try:
                info = path.stat()
                item.size, item.mtime_ns = info.st_size, info.st_mtime_ns
            except OSError as exc:
                item.outcome = FileOutcome(item.label, item.name, "failed", 0, reason=str(exc))
            return item
        label = str(getattr(spec.source, "name", "") or "<file object>")
        name = spec.name or Path(label).stem
        item = Item(label, image_name(name), tags, private, handle=spec.source)
        if spec.source.seekable():  # else the size is known once it is spooled
            here = spec.source.tell()
            item.size = spec.source.seek(0, os.SEEK_END) - here
            spec.source.seek(here)
        return item

    def run(self, sources: Iterable[Source], ignored: Sequence[Ignored] = ()) -> UploadReport:
        """Upload every source; per-file problems land in the report, fatal ones raise.

        `ignored` (files the caller left out) is carried into the report as it is."""
        items = [self._item(source) for source in sources]
        todo = [item for item in items if item.outcome is None]
        tracker = Tracker(self.progress, len(items), sum(item.size for item in todo))
        tracker.files_done = len(items) - len(todo)
        self._unchecked = len(todo)
        try:
            if todo:
                self._look_at_account(len(todo))
            self._parallel(self._process, todo, tracker)
            while self._pending:
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                confirm_batch(self.client, batch, tracker.finish)
        finally:
            for item in items:
                if item.owned and item.handle is not None:
                    item.handle.close()
        outcomes = [item.outcome for item in items if item.outcome is not None]
        return UploadReport(outcomes, list(ignored))

    def _look_at_account(self, files: int) -> None:
        """Note the room under the account's image limit, and how to learn what it holds.

        An empty account needs no question; a small one (under half as many images as files)
        is listed once; otherwise each file's MD5 is asked about with the `hash=` filter.
        """
        try:
            account = self.client.account()
        except NotLoggedIn:  # a token that is not a CAS JWT: ask about every file
            return
        if account.image_upload_limit is not None:
            self._room = account.image_upload_limit - account.image_upload_count
        if account.image_upload_count == 0:
            self._held = {}
        elif account.image_upload_count < files // 2:
            self._held = self.client.held_hashes(self.concurrency)

    def _parallel(
        self, work: Callable[[Item, Tracker], None], items: list[Item], t: Tracker
    ) -> None:
        """Run `work` on each item from `concurrency` threads pulling in turn (no per-item state);
        the first error stops them and is raised."""
        pending = iter(items)
        lock = threading.Lock()
        failures: list[BaseException] = []

        def worker() -> None:
            while not failures:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                try:
                    work(item, t)
                except BaseException as exc:
                    failures.append(exc)

        count = min(self.concurrency, len(items))
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(count)]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException as exc:  # Ctrl-C: let the workers finish their file and stop
            failures.append(exc)
            raise
        if failures:
            raise failures[0]

    def _hash(self, item: Item, tracker: Tracker) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        if item.path is not None:
            with item.path.open("rb") as stream:
                while piece := stream.read(HASH_CHUNK):
                    digest.update(piece)
                    tracker.hashed(len(piece))
            return digest.hexdigest()
        handle = item.handle
        assert handle is not None
        if not handle.seekable():  # spool once to a temporary file, hashing on the way
            spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed at the end of run()
            while piece := handle.read(HASH_CHUNK):
                digest.update(piece)
                tracker.hashed(len(piece))
                spool.write(piece)
            item.handle, item.owned, item.size = spool, True, spool.tell()
            spool.seek(0)
            return digest.hexdigest()
        start = handle.tell()
        while piece := handle.read(HASH_CHUNK):
            digest.update(piece)
            tracker.hashed(len(piece))
        item.size = handle.tell() - start
        handle.seek(start)
        return digest.hexdigest()

    def _process(self, item: Item, tracker: Tracker) -> None:
        """One file: hash, skip if held, PUT, queue for notify (and notify a full batch).

        When there is nothing to look up (the account was empty), the MD5 is computed
        while the file is sent, so each file is read once; a repeat of another file of the run
        is then dropped after its PUT, before notify.
        """
        one_pass = (
            self._held == {}
            and self._near is None  # a near copy must be known before its bytes are sent
            and (item.handle is None or item.handle.seekable())
        )
        if not one_pass and not self._check(item, tracker):
            return
        if one_pass:
            self._checked_one(new=True)
        try:
            entry = self._take_url()
            source = item.path if item.path is not None else item.handle
            assert source is not None
            sent_md5 = self.client.put_object(
                entry.url, source, size=item.size, progress=lambda n: tracker.sent(item, n),
                md5=one_pass,
            )  # fmt: skip
        except FATAL:
            raise
        except BitimageError as exc:
            tracker.finish(item, "failed", file_reason(exc))
            return
        except OSError as exc:
            tracker.finish(item, "failed", f"cannot read: {exc.strerror or exc}")
            return
        if item.path is not None and self._changed(item):
            tracker.finish(item, "failed", "the file changed while it was being uploaded")
            return
        if one_pass:
            item.md5 = sent_md5
            with self._lock:
                twin = self._claimed.setdefault(item.md5 or "", item)
            if twin is not item:
                tracker.finish(item, "skipped", f"same bytes as {twin.label}")
                return
        assert item.md5 is not None
        notice = NotifyImage(
            id=entry.image_id, name=item.name, hash=item.md5, is_private=item.is_private,
            tags=item.tags,
        )  # fmt: skip
        with self._lock:
            self._pending.append((item, notice))
            if len(self._pending) < BATCH:
                return
            batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
        confirm_batch(self.client, batch, tracker.finish)

    def _check(self, item: Item, tracker: Tracker) -> bool:
        """Hash the file and ask whether the account holds it; False when it is settled."""
        try:
            item.md5 = self._hash(item, tracker)
        except OSError as exc:
            self._checked_one(new=False)
            tracker.finish(item, "failed", f"cannot read: {exc.strerror or exc}")
            return False
        with self._lock:
            twin = self._claimed.setdefault(item.md5, item)
        held: uuid.UUID | None = None
        if twin is item:
            if self._held is not None:
                held = self._held.get(item.md5)
            elif summary := self.client.find_by_hash(item.md5):
                held = summary.id
        near = None
        if twin is item and held is None and self._near is not None:
            near = self._near.skip_reason(item)
        self._checked_one(new=twin is item and held is None and near is None)
        if twin is not item:
            tracker.finish(item, "skipped", f"same bytes as {twin.label}")
            return False
        if held is not None:
            tracker.finish(item, "skipped", f"already uploaded as image {held}", held)
            return False
        if near is not None:
            tracker.finish(item, "skipped", near[0], near[1])
            return False
        return True

    @staticmethod
    def _changed(item: Item) -> bool:
        assert item.path is not None
        try:
            info = item.path.stat()
        except OSError:
            return True
        return (info.st_size, info.st_mtime_ns) != (item.size, item.mtime_ns)

    def _checked_one(self, new: bool) -> None:
        with self._lock:
            self._unchecked -= 1
            self._checked += 1
            self._new += new

    def _take_url(self) -> UploadUrl:
        """A fresh upload URL; asks for as many as the files still unchecked will likely need."""
        with self._lock:
            if not self._urls:
                if self._urls_error is not None:
                    raise self._urls_error
                share = self._new / max(1, self._checked)
                count = min(URLS_PER_REQUEST, 1 + math.ceil(self._unchecked * share))
                if self._room is not None:
                    count = max(1, min(count, self._room))
                try:
                    self._urls.extend(self.client.upload_urls(count))
                except ApiError as exc:
                    self._urls_error = exc
                    raise
                if self._room is not None:
                    self._room -= count
            return self._urls.popleft()
