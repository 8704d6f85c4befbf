"""JWT issuing (the built-in CAS) and local verification (the API), with an algorithm allow-list."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bitimage.cas.keys import KeyRing, SigningKey, public_jwk

# Asymmetric algorithms only: never "none", never an HMAC that a public key could be fed to.
ALLOWED_ALGORITHMS = ("EdDSA", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256")


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed, expired or from an unknown issuer."""


@dataclass(frozen=True)
class Identity:
    """Who a verified token speaks for."""

    user_id: uuid.UUID
    email: str | None


class TokenIssuer:
    """Signs tokens for the built-in CAS with the newest key of its ring (its `kid` named)."""

    def __init__(self, keys: KeyRing | Ed25519PrivateKey, issuer: str, ttl_seconds: int) -> None:
        self.keys = keys if isinstance(keys, KeyRing) else _OneKey(keys)
        self.issuer = issuer
        self._ttl = timedelta(seconds=ttl_seconds)

    @property
    def jwk(self) -> dict[str, Any]:
        """The public JWK of the key that signs now."""
        return self.keys.signing().jwk

    def issue(self, user_id: uuid.UUID, email: str) -> str:
        """A signed token for the account."""
        now = datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "user_id": str(user_id),
            "email": email,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
            "iss": self.issuer,
        }
        signing = self.keys.signing()
        return jwt.encode(claims, signing.key, algorithm="EdDSA", headers={"kid": signing.kid})

    def jwks(self) -> dict[str, Any]:
        """The public key set to publish: every key that may have signed a live token."""
        return self.keys.jwks()


class _OneKey(KeyRing):
    """A ring of one key held in memory (no file): for tests and tools."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._keys = [SigningKey(key, public_jwk(key.public_key()))]

    def refresh(self) -> None:
        """Nothing to re-read."""


class KeySource(Protocol):
    """Finds the public key (and its one algorithm) for a token."""

    def key_for(self, token: str) -> tuple[Any, str]:
        """The verification key and the only algorithm it may be used with."""
        ...


class StaticKeySource:
    """Keys known in-process: the built-in CAS's own public key."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = {k["kid"]: jwt.PyJWK(k) for k in jwks["keys"]}

    def key_for(self, token: str) -> tuple[Any, str]:
        """Look the token's `kid` up among the known keys."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        jwk = self._keys.get(kid) if kid else next(iter(self._keys.values()))
        if jwk is None:
            raise InvalidToken("the token was signed by an unknown key")
        return jwk.key, jwk.algorithm_name


class RingKeySource:
    """The built-in CAS's own keys, from its key file (re-read when a token names a new kid)."""

    def __init__(self, keys: KeyRing) -> None:
        self._ring = keys

    def key_for(self, token: str) -> tuple[Any, str]:
        """Look the token's `kid` up in the ring; a token without one: the signing key."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        found = self._ring.find(str(kid)) if kid else self._ring.signing()
        if found is None:
            raise InvalidToken("the token was signed by an unknown key")
        return found.key.public_key(), "EdDSA"


class RemoteKeySource:
    """Keys fetched (and cached) from an external issuer's JWKS URL."""

    def __init__(self, jwks_url: str) -> None:
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=600, timeout=5)

    def key_for(self, token: str) -> tuple[Any, str]:
        """Fetch the signing key named by the token's `kid`."""
        try:
            jwk = self._client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise InvalidToken(f"the issuer's keys could not be fetched: {exc}") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"no key for this token: {exc}") from None
        return jwk.key, jwk.algorithm_name


class TokenVerifier:
    """Verifies tokens locally: signature, algorithm, expiry and issuer.

    A verified token is remembered until it expires (at most CACHE_SECONDS), so a client
    making many calls with one token pays for one signature check, not one per call.
    """

    LEEWAY_SECONDS = 30
    # Keys fetched from an external issuer are themselves cached for 600 s (RemoteKeySource),
    # so remembering a verdict for 300 s does not keep a withdrawn key trusted any longer.
    CACHE_SECONDS = 300
    CACHE_SIZE = 4096

    def __init__(
        self, keys: KeySource, issuer: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._clock = clock
        self._verified: OrderedDict[str, tuple[Identity, float]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, token: str) -> Identity | None:
        """The identity of a token verified earlier and not expired since; None otherwise."""
        with self._lock:
            found = self._verified.get(token)
            if found is None:
                return None
            identity, good_until = found
            if self._clock() >= good_until:
                del self._verified[token]
                return None
            self._verified.move_to_end(token)
            return identity

    def verify(self, token: str) -> Identity:
        """The identity in a valid token; raise InvalidToken otherwise."""
        identity = self.cached(token)
        if identity is not None:
            return identity
        identity, expires = self._decode(token)
        good_until = min(expires + self.LEEWAY_SECONDS, self._clock() + self.CACHE_SECONDS)
        with self._lock:
            self._verified[token] = (identity, good_until)
            if len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        return identity

    def _decode(self, token: str) -> tuple[Identity, float]:
        key, algorithm = self._keys.key_for(token)
        if algorithm not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"algorithm {algorithm} is not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "iss", "sub"]},
                leeway=self.LEEWAY_SECONDS,
            )
            identity = Identity(uuid.UUID(str(claims["sub"])), claims.get("email"))
            return identity, float(claims["exp"])
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired; log in again") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken(
                "the token comes from an issuer this service does not trust"
            ) from None
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(f"the token is invalid: {exc}") from None
