"""LocalSignedStore: objects as files under one folder, reached through HMAC-signed URLs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from bitimage.storage.keys import MEMBERS, family_of, is_valid_key
from bitimage.storage.ports import ObjectInfo, StoreUnavailable
from bitimage.storage.signing import UrlSigner

_META_DIR = ".meta"
_TMP_DIR = ".tmp"
_READ_CHUNK = 1024 * 1024
# The MD5 and size ride on the file itself (an extended attribute): a hard link shares them
# and nothing else is written. Filesystems without user xattrs get a JSON sidecar instead.
# Sidecars are not synced: one lost in a power cut makes stat() answer no MD5, and md5()
# reads the bytes again.
_XATTR = "user.bitimage.md5"


class InvalidKey(ValueError):
    """A key this service would never generate."""


class UploadWriter:
    """Receives one upload into a temporary file, hashing and counting as it goes.

    The temporary file is made by the first write, not here: the PUT route builds the writer
    on the event loop and does all its file work in one thread hop when the body is small.
    """

    def __init__(self, store: LocalSignedStore, key: str) -> None:
        self._store = store
        self._key = key
        self._file: BinaryIO | None = None
        self._tmp: Path | None = None
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def _opened(self) -> BinaryIO:
        if self._file is None:
            fd, name = tempfile.mkstemp(dir=self._store.root / _TMP_DIR)
            self._file, self._tmp = os.fdopen(fd, "wb"), Path(name)
        return self._file

    def write(self, *chunks: bytes) -> None:
        """Append chunks to the temporary file."""
        file = self._opened()
        for chunk in chunks:
            self._md5.update(chunk)
            file.write(chunk)
            self.size += len(chunk)

    def commit(self, *chunks: bytes) -> str:
        """Append the last chunks, move the file into place atomically; return its hex MD5."""
        self.write(*chunks)
        file, tmp = self._opened(), self._tmp
        assert tmp is not None  # set together with the file
        digest = self._md5.hexdigest()
        file.flush()
        tagged = self._store.tag(file.fileno(), digest, self.size)
        # On the disk before the 200: a client that got it may delete its copy.
        self._store.fsync(file.fileno())
        file.close()
        self._store.install(tmp, self._key, digest, self.size, tagged)
        return digest

    def abort(self) -> None:
        """Throw the partial upload away."""
        if self._file is not None and self._tmp is not None:
            self._file.close()
            self._tmp.unlink(missing_ok=True)


class LocalSignedStore:
    """An ObjectStore on the local disk; its URLs point at the service's /storage route."""

    def __init__(self, root: Path, signer: UrlSigner, base_url: str) -> None:
        self.root = root
        self.signer = signer
        self.base_url = base_url.rstrip("/")
        for sub in (_TMP_DIR, _META_DIR):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._xattrs = self._has_xattrs()

    def _has_xattrs(self) -> bool:
        """Whether this filesystem keeps user xattrs (else MD5s go to sidecar files)."""
        with tempfile.NamedTemporaryFile(dir=self.root / _TMP_DIR) as probe:
            try:
                os.setxattr(probe.fileno(), _XATTR, b"probe")
            except OSError:
                return False
        return True

    def path_for(self, key: str) -> Path:
        """The file behind a key; refuses any key the service does not generate."""
        if not is_valid_key(key):
            raise InvalidKey(key)
        return self.root / key

    def _meta_path(self, key: str) -> Path:
        return self.root / _META_DIR / f"{key}.json"

    def _sign(self, method: str, key: str, ttl_seconds: int) -> str:
        expires = int(time.time()) + ttl_seconds
        signature = self.signer.signature(method, key, expires)
        return f"{self.base_url}/storage/{quote(key)}?expires={expires}&signature={signature}"

    def presign_put(self, key: str, ttl_seconds: int) -> str:
        """A signed PUT URL for `key`."""
        return self._sign("PUT", key, ttl_seconds)

    def presign_get(self, key: str, ttl_seconds: int) -> str:
        """A signed GET URL for `key`."""
        return self._sign("GET", key, ttl_seconds)

    def presign_gets(self, keys: Sequence[str], ttl_seconds: int) -> list[str]:
        """GET URLs of one image's keys under one signature whose scope lists exactly them.

        A summary signs a view, a thumbnail and a preview URL per image: one HMAC instead of
        three. Keys that are not all of one confirmed image are signed one by one.
        """
        first = family_of(keys[0]) if len(keys) > 1 else None
        if first is None:
            return [self.presign_get(key, ttl_seconds) for key in keys]
        base = first[0]
        letters = set()
        for key in keys:
            member = MEMBERS.get(key[len(base) :]) if key.startswith(base) else None
            if member is None:  # not a key of that image
                return [self.presign_get(key, ttl_seconds) for key in keys]
            letters.add(member)
        scope = "".join(sorted(letters))
        expires = int(time.time()) + ttl_seconds
        signature = self.signer.scoped_signature(base, scope, expires)
        # Keys are generated (checked by family_of): nothing in them needs quoting.
        query = f"?expires={expires}&signature={signature}&scope={scope}"
        return [f"{self.base_url}/storage/{key}{query}" for key in keys]

    def open_writer(self, key: str) -> UploadWriter:
        """Start receiving an upload for `key` (no file is made until the first write)."""
        self.path_for(key)
        return UploadWriter(self, key)

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        """Write `data` to `key` as an upload is written: synced, renamed into place, MD5 on it.

        Type and caching are not kept: the GET route sniffs the one and derives the other.
        """
        writer = self.open_writer(key)
        try:
            writer.commit(data)
        except BaseException:
            writer.abort()
            raise

    def tag(self, file: int | Path, md5: str, size: int) -> bool:
        """Record MD5 and size on the file itself; False where the filesystem cannot."""
        if not self._xattrs:
            return False
        try:
            os.setxattr(file, _XATTR, f"{md5}:{size}".encode())
        except OSError:
            self._xattrs = False
            return False
        return True

    def fsync(self, fd: int) -> None:
        """Flush an open file or folder to the disk: every sync of the store goes through here."""
        os.fsync(fd)

    def _sync_dir(self, folder: Path) -> None:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self.fsync(fd)
        finally:
            os.close(fd)

    def _make_dir(self, folder: Path) -> None:
        """Create `folder` and its missing parents, each one's entry synced in its parent."""
        missing: list[Path] = []
        while not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        for new in reversed(missing):  # rare: once per user and area
            with contextlib.suppress(FileExistsError):
                new.mkdir()
            self._sync_dir(new.parent)

    def sync(self, keys: Iterable[str]) -> None:
        """Make the directory entries of `keys` durable: one fsync per distinct folder.

        Their bytes were synced when written (a PUT, or copy()); renames and links only
        change folders, and a folder's fsync covers all of its entries at once.
        """
        for folder in sorted({self.path_for(key).parent for key in keys}):
            self._sync_dir(folder)

    def install(self, tmp: Path, key: str, md5: str, size: int, tagged: bool = False) -> None:
        """Atomically and durably put a synced file at `key`, with its MD5 on or beside it."""
        target = self.path_for(key)
        try:
            os.replace(tmp, target)
        except FileNotFoundError:
            self._make_dir(target.parent)
            os.replace(tmp, target)
        self._sync_dir(target.parent)
        if not tagged:
            # Data first, then the sidecar: a sidecar whose size disagrees is ignored by stat().
            meta = self._meta_path(key)
            meta.parent.mkdir(parents=True, exist_ok=True)
            self._write_meta(meta, {"md5": md5, "size": size})

    def _write_meta(self, meta: Path, record: dict[str, object]) -> None:
        fd, name = tempfile.mkstemp(dir=self.root / _TMP_DIR)
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle)
        os.replace(name, meta)

    def stat(self, key: str) -> ObjectInfo | None:
        """Size and MD5 of an object, or None when absent."""
        path = self.path_for(key)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        md5 = self._recorded_md5(path, key, st.st_size)
        modified = datetime.fromtimestamp(st.st_mtime, UTC)
        return ObjectInfo(key=key, size=st.st_size, md5=md5, modified_at=modified)

    def _recorded_md5(self, path: Path, key: str, size: int) -> str | None:
        with contextlib.suppress(OSError, ValueError):
            digest, _, recorded = os.getxattr(path, _XATTR).decode().partition(":")
            if int(recorded) == size:
                return digest
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
            record = json.loads(self._meta_path(key).read_text())
            if record.get("size") == size:
                return str(record["md5"])
        return None

    def pin(self, key: str, private_key: str) -> ObjectInfo | None:
        """Move the object at `key` to `private_key` (one rename), unless one is there already."""
        target = self.path_for(private_key)
        if not target.exists():  # an earlier pin is kept: PUTs after it change nothing
            self._make_dir(target.parent)  # the move itself is synced by the confirm: sync()
            try:
                os.replace(self.path_for(key), target)
            except FileNotFoundError:
                return None  # nothing uploaded
            if not self._xattrs:
                # A sidecar may already describe a newer PUT of the same size: recompute.
                self._meta_path(key).unlink(missing_ok=True)
                meta = self._meta_path(private_key)
                meta.parent.mkdir(parents=True, exist_ok=True)
                size = target.stat().st_size
                self._write_meta(meta, {"md5": self._read_md5(target), "size": size})
        return self.stat(private_key)

    def read_range(self, key: str, start: int, length: int, etag: str | None = None) -> bytes:
        """Bytes from `start` (negative counts from the end), at most `length` of them.

        `etag` is ignored: pinned local objects never change.
        """
        with self.path_for(key).open("rb") as handle:
            if start < 0:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) + start))
            else:
                handle.seek(start)
            return handle.read(length)

    def open(self, key: str) -> BinaryIO:
        """The object's file, opened for reading."""
        return self.path_for(key).open("rb")

    def md5(self, key: str, etag: str | None = None) -> str:
        """The object's MD5, from its sidecar or by reading it."""
        info = self.stat(key)
        if info is not None and info.md5 is not None:
            return info.md5
        return self._read_md5(self.path_for(key))

    def _read_md5(self, path: Path) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def copy(self, source: str, destination: str, etag: str | None = None) -> None:
        """Hard-link (or copy) `source` to `destination`, atomically replacing it.

        A copy's bytes are synced here; the new entry is synced by sync(), per group of keys.
        """
        src, dst = self.path_for(source), self.path_for(destination)
        tmp = Path(tempfile.mktemp(dir=self.root / _TMP_DIR))  # noqa: S306 - link needs a free name
        try:
            os.link(src, tmp)
            linked = True
        except OSError:
            shutil.copyfile(src, tmp)
            with tmp.open("rb") as copied:
                self.fsync(copied.fileno())
            linked = False
        try:
            os.replace(tmp, dst)
        except FileNotFoundError:  # the owner's first object: make the folder, once
            self._make_dir(dst.parent)
            os.replace(tmp, dst)
        if linked and self._xattrs:
            return  # one inode: the MD5 recorded on it is the copy's too
        info = self.stat(source)
        if info is None or info.md5 is None or self.tag(dst, info.md5, info.size):
            return
        meta = self._meta_path(destination)
        meta.parent.mkdir(parents=True, exist_ok=True)
        self._write_meta(meta, {"md5": info.md5, "size": info.size})

    def delete(self, keys: Iterable[str]) -> None:
        """Delete objects and their sidecars; missing ones are fine."""
        for key in keys:
            self.path_for(key).unlink(missing_ok=True)
            if not self._xattrs:  # sidecars exist only where the filesystem has no xattrs
                self._meta_path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under a prefix."""
        keys = [info.key for info in self.list(prefix)]
        self.delete(keys)
        return len(keys)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`."""
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [name for name in dirnames if not name.startswith(".")]
            for name in filenames:
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix) and is_valid_key(key):
                    info = self.stat(key)
                    if info is not None:
                        yield info

    def ping(self) -> None:
        """Check the folder is there and writable."""
        if not os.access(self.root / _TMP_DIR, os.W_OK):
            raise StoreUnavailable(f"{self.root} is not writable")
