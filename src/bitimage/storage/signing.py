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
        # The key's inner and outer pads hashed once: each signature copies this state
        # instead of hashing them again (a summary page signs a few hundred URLs).
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def signature(self, method: str, key: str, expires: int) -> str:
        """The hex HMAC-SHA256 of the triple."""
        mac = self._keyed.copy()
        mac.update(f"{method.upper()}\n{key}\n{expires}".encode())
        return mac.hexdigest()

    def scoped_signature(self, base: str, scope: str, expires: int) -> str:
        """The signature of a GET of the members `scope` lists of the image key `base`.

        A `|` never occurs in a key, so no scoped message is ever a single key's.
        """
        return self.signature("GET", f"{base}|{scope}", expires)

    def verify(self, method: str, key: str, expires: int, signature: str, now: float) -> bool:
        """True when the signature matches the triple and `expires` is not past."""
        expected = self.signature(method, key, expires)
        valid = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
        return valid and now <= expires
