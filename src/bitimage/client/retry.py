"""Retries of transient failures: connection errors, 5xx, and 429/503 with Retry-After."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bitimage.client.errors import ConnectionFailed, retry_after

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: exponential backoff with jitter, Retry-After honoured."""

    attempts: int = 5
    backoff: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, hinted: float | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1` (Retry-After wins when given)."""
        if hinted is not None:
            return min(max(hinted, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.backoff * 2.0 ** (attempt - 1))
        jitter: float = random.random()  # noqa: S311 - jitter, not a secret
        return ceiling * (0.5 + jitter / 2)


NO_RETRY = RetryPolicy(attempts=1)


def send_with_retries(
    policy: RetryPolicy,
    send: Callable[[], httpx.Response],
    *,
    what: str,
    on_retry: Callable[[int, str], None] | None = None,
) -> httpx.Response:
    """Call `send` until it answers with a non-transient status or the attempts run out.

    Transport errors become ConnectionFailed after the last attempt; a transient status on the
    last attempt is returned as is, for the caller to raise.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            response = send()
        except httpx.TransportError as exc:
            if attempt >= policy.attempts:
                reason = str(exc) or type(exc).__name__
                raise ConnectionFailed(f"{what} failed: {reason}") from exc
            if on_retry is not None:
                on_retry(attempt, type(exc).__name__)
            policy.sleep(policy.delay(attempt))
            continue
        if response.status_code not in TRANSIENT_STATUSES or attempt >= policy.attempts:
            return response
        if on_retry is not None:
            on_retry(attempt, f"HTTP {response.status_code}")
        policy.sleep(policy.delay(attempt, retry_after(response)))
