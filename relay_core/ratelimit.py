"""Per-client-address limits for login and register, shared by the REST API and the dashboard."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from functools import lru_cache

from relay_core.errors import RateLimited

WINDOW_SECONDS = 60.0
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SlidingWindowLimiter:
    """At most `limit` hits per key in any `window` seconds (this process's memory)."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one request; RateLimited with whole seconds to wait when over the limit."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                raise RateLimited(math.ceil(hits[0] + self.window - now))
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients so the map cannot grow without bound
                for stale in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[stale]


@lru_cache(maxsize=16)
def auth_limiter(action: str, limit: int) -> SlidingWindowLimiter:
    """The process-wide limiter for one auth action ("login", "register"): the API and the pages share it."""
    return SlidingWindowLimiter(limit)


@lru_cache(maxsize=16)
def parse_networks(networks: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The peer address; X-Forwarded-For's last untrusted hop only when the peer is a trusted proxy."""
    if not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
