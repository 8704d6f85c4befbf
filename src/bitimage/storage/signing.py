"""HMAC signatures for the local store's URLs: method, key and expiry, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac


class UrlSigner:
    """Signs and verifies (method, key, expires) triples with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the signing secret must be at least 32 bytes")
        self._secret = secret

    def signature(self, method: str, key: str, expires: int) -> str:
        """The hex HMAC-SHA256 of the triple."""
        message = f"{method.upper()}\n{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, method: str, key: str, expires: int, signature: str, now: float) -> bool:
        """True when the signature matches the triple and `expires` is not past."""
        expected = self.signature(method, key, expires)
        valid = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
        return valid and now <= expires
