"""A sliding-window rate limiter for login and signup attempts (in process memory)."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque


class RateLimiter:
    """Allows `limit` hits per key in any `window_seconds`; answers how long to wait."""

    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        self._limit = limit
        self._window = window_seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int:
        """Record a hit; return 0 if allowed, else the seconds to wait before the next one."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self._window:
                hits.popleft()
            if len(hits) >= self._limit:
                return max(1, math.ceil(hits[0] + self._window - now))
            hits.append(now)
            if len(self._hits) > 100_000:  # keep memory bounded under a flood of keys
                self._hits = {k: v for k, v in self._hits.items() if v[-1] > now - self._window}
            return 0


def address_key(host: str) -> str:
    """The rate-limit key of a client address: itself, or for IPv6 its /64 network.

    An IPv6 client is usually given a whole /64, so counting single addresses would let it
    take a fresh one for every attempt.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
