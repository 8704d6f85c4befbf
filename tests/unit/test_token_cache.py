"""TokenVerifier remembers verified tokens: one signature check per token, not per call."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bitimage.cas.tokens import InvalidToken, StaticKeySource, TokenIssuer, TokenVerifier

ISSUER = "https://bitimage.test/cas"


class CountingKeys:
    """The issuer's own keys, counting how often a token's key is looked up."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self._keys = StaticKeySource(issuer.jwks())
        self.lookups = 0

    def key_for(self, token: str) -> tuple[Any, str]:
        """Look the key up, and count it."""
        self.lookups += 1
        return self._keys.key_for(token)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(Ed25519PrivateKey.generate(), ISSUER, ttl_seconds=3600)


def test_a_token_is_checked_once_then_answered_from_memory(issuer: TokenIssuer) -> None:
    keys = CountingKeys(issuer)
    verifier = TokenVerifier(keys, ISSUER)
    user = uuid.uuid4()
    token = issuer.issue(user, "a@example.com")
    assert verifier.cached(token) is None
    first = verifier.verify(token)
    assert [verifier.verify(token) for _ in range(3)] == [first] * 3
    assert first.user_id == user
    assert keys.lookups == 1
    assert verifier.cached(token) == first


def test_a_remembered_token_is_checked_again_after_the_cache_period(issuer: TokenIssuer) -> None:
    keys, clock = CountingKeys(issuer), Clock()
    verifier = TokenVerifier(keys, ISSUER, clock=clock)
    token = issuer.issue(uuid.uuid4(), "a@example.com")
    verifier.verify(token)
    clock.now += TokenVerifier.CACHE_SECONDS - 1
    verifier.verify(token)
    assert keys.lookups == 1
    clock.now += 2  # past the cache period, still well before the token's own expiry
    assert verifier.cached(token) is None
    verifier.verify(token)
    assert keys.lookups == 2


def test_a_token_is_not_remembered_past_its_expiry() -> None:
    short = TokenIssuer(Ed25519PrivateKey.generate(), ISSUER, ttl_seconds=60)
    clock = Clock()
    verifier = TokenVerifier(CountingKeys(short), ISSUER, clock=clock)
    token = short.issue(uuid.uuid4(), "a@example.com")
    verifier.verify(token)
    clock.now += 60 + TokenVerifier.LEEWAY_SECONDS + 1  # expiry plus leeway: under 300 s
    assert verifier.cached(token) is None


def test_bad_tokens_are_refused_every_time_and_never_remembered(issuer: TokenIssuer) -> None:
    other = TokenIssuer(Ed25519PrivateKey.generate(), ISSUER, ttl_seconds=3600)
    keys = CountingKeys(issuer)
    verifier = TokenVerifier(keys, ISSUER)
    token = issuer.issue(uuid.uuid4(), "a@example.com")
    header, _, signature = token.split(".")
    forged = f"{header}.{other.issue(uuid.uuid4(), 'b@example.com').split('.')[1]}.{signature}"
    for _ in range(2):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)
        assert verifier.cached(forged) is None
    assert keys.lookups == 2


def test_the_memory_is_bounded(issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TokenVerifier, "CACHE_SIZE", 3)
    verifier = TokenVerifier(CountingKeys(issuer), ISSUER)
    tokens = [issuer.issue(uuid.uuid4(), f"{n}@example.com") for n in range(4)]
    for token in tokens:
        verifier.verify(token)
    assert verifier.cached(tokens[0]) is None  # the least recently used one went
    assert all(verifier.cached(token) is not None for token in tokens[1:])
