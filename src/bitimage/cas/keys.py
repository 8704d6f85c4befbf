"""The CAS signing keys: Ed25519, kept 0600 in one key file (BITIMAGE_CAS_KEY_FILE).

The file holds one or more PEM keys, oldest first: the last one signs new tokens, every one
is published in the JWKS and verifies. `bitimage cas rotate-key` appends a new key, stamps the
previous signer as retired, and drops keys retired longer ago than a token lives (no token
that is still valid can carry them). Servers re-read the file when it changes, so servers
sharing it (the same file on every host, or a copy) follow a rotation without a restart.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_HEADER = "# Bit-image CAS signing keys: the last one signs, every one verifies.\n"
_BLOCK = re.compile(
    r"(?:^# key(?P<meta>[^\n]*)\n)?"
    r"(?P<pem>-----BEGIN PRIVATE KEY-----\n.*?-----END PRIVATE KEY-----\n?)",
    re.MULTILINE | re.DOTALL,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The public key as a JWK (OKP / Ed25519) with a RFC 7638 thumbprint as `kid`."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
    thumbprint = _b64(hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest())
    return {**members, "kid": thumbprint, "use": "sig", "alg": "EdDSA"}


@dataclass(frozen=True)
class SigningKey:
    """One key of the file: its JWK (with `kid`), when it was added and retired (if known)."""

    key: Ed25519PrivateKey
    jwk: dict[str, Any]
    added: datetime | None = None
    retired: datetime | None = None

    @property
    def kid(self) -> str:
        """The key id tokens name in their header."""
        return str(self.jwk["kid"])

    @classmethod
    def generate(cls, now: datetime) -> SigningKey:
        """A new random key, added `now`."""
        key = Ed25519PrivateKey.generate()
        return cls(key, public_jwk(key.public_key()), added=now)


def _when(meta: str, name: str) -> datetime | None:
    found = re.search(rf"\b{name}=(\S+)", meta)
    return datetime.fromisoformat(found.group(1)) if found else None


def parse_keys(text: str, where: Path) -> list[SigningKey]:
    """The keys of a key file's text, oldest first; ValueError naming `where` if it has none."""
    keys = []
    for block in _BLOCK.finditer(text):
        key = serialization.load_pem_private_key(block["pem"].encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{where} holds a key that is not Ed25519")
        meta = block["meta"] or ""
        jwk = public_jwk(key.public_key())
        keys.append(SigningKey(key, jwk, _when(meta, "added"), _when(meta, "retired")))
    if not keys:
        raise ValueError(f"{where} holds no PEM private key (-----BEGIN PRIVATE KEY-----)")
    return keys


def render_keys(keys: list[SigningKey]) -> str:
    """The key file's text for `keys` (oldest first)."""
    parts = [_HEADER]
    for item in keys:
        meta = "".join(
            f" {name}={moment.isoformat(timespec='seconds')}"
            for name, moment in (("added", item.added), ("retired", item.retired))
            if moment is not None
        )
        pem = item.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        parts.append(f"# key kid={item.kid}{meta}\n{pem.decode()}")
    return "".join(parts)


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` at once: readers see the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the key file's lock: two rotations at once must not lose one's key."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def load_or_create_keys(path: Path) -> list[SigningKey]:
    """The keys at `path`, or one new key written there (0600) when the file is missing."""
    if path.exists():
        return parse_keys(path.read_text(), path)
    with _locked(path):
        if path.exists():  # made by another process while this one waited
            return parse_keys(path.read_text(), path)
        keys = [SigningKey.generate(datetime.now(UTC))]
        _write_private(path, render_keys(keys))
        return keys


def rotate_keys(path: Path, token_ttl_seconds: int, now: datetime | None = None) -> RotationReport:
    """Append a new signing key, retire the last one, drop keys no valid token can carry."""
    now = now or datetime.now(UTC)
    # A token signed just before the rotation lives token_ttl more; clocks drift a little.
    horizon = now - timedelta(seconds=token_ttl_seconds + 60)
    with _locked(path):
        keys = parse_keys(path.read_text(), path) if path.exists() else []
        if keys and keys[-1].retired is None:
            keys[-1] = replace(keys[-1], retired=now)
        kept = [k for k in keys if k.retired is None or k.retired > horizon]
        new = SigningKey.generate(now)
        _write_private(path, render_keys([*kept, new]))
    dropped = [k.kid for k in keys if k not in kept]
    return RotationReport(new.kid, [k.kid for k in kept], dropped)


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did: the new signing kid, the older kids kept and those dropped."""

    signing: str
    kept: list[str]
    dropped: list[str]


class KeyRing:
    """The key file as the CAS uses it: re-read whenever the file changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keys = load_or_create_keys(path)
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def refresh(self) -> None:
        """Re-read the file if it changed (a rotation replaces it); keep the keys otherwise."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return
        with self._lock:
            if stamp == self._seen:
                return
            try:
                self._keys = parse_keys(self.path.read_text(), self.path)
            except (OSError, ValueError):
                return  # a broken file must not take the running keys away
            self._seen = stamp

    @property
    def keys(self) -> list[SigningKey]:
        """Every key, oldest first (the last one signs)."""
        return self._keys

    def signing(self) -> SigningKey:
        """The key new tokens are signed with, after a look at the file."""
        self.refresh()
        return self._keys[-1]

    def find(self, kid: str) -> SigningKey | None:
        """The key with this `kid`, looking at the file again before saying there is none."""
        for item in self._keys:
            if item.kid == kid:
                return item
        self.refresh()
        return next((item for item in self._keys if item.kid == kid), None)

    def jwks(self) -> dict[str, Any]:
        """The public key set to publish: every key of the file, newest first."""
        self.refresh()
        return {"keys": [item.jwk for item in reversed(self._keys)]}
