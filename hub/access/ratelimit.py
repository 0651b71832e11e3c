"""Per-key rate limits: a token bucket per principal, in this process's memory.

Each hub process limits on its own, so with N processes behind a load balancer a key gets up
to N times its rate; that keeps the hot path free of a shared store.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one request may go ahead; if not, how many seconds until it could."""

    allowed: bool
    retry_after_s: float = 0.0


def _capacity(rate_per_minute: float) -> float:
    # At least one token, or a rate below one a minute could never let a request through.
    return max(rate_per_minute, 1.0)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_s: float
    rate_per_minute: float


class RateLimiter:
    """Token buckets keyed by principal (a key id, or ``ip:<address>`` for anonymous callers).

    A bucket holds up to one minute's worth of requests (so a key may burst its whole minute)
    and refills continuously. At most `max_buckets` principals are tracked; the least recently
    seen is forgotten first, which can only make a limit more lenient, never stricter.
    """

    def __init__(
        self,
        default_per_minute: float = 600.0,
        *,
        max_buckets: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if default_per_minute <= 0:
            raise ValueError("default_per_minute must be positive")
        self.default_per_minute = default_per_minute
        self.max_buckets = max_buckets
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def check(self, principal: str, rate_per_minute: float | None = None) -> Verdict:
        """Take one token from `principal`'s bucket (rate None: the default)."""
        rate = rate_per_minute or self.default_per_minute
        now = self.clock()
        bucket = self._buckets.get(principal)
        if bucket is None or bucket.rate_per_minute != rate:
            # A new key, or its rate was changed: start with a full bucket at the new rate.
            bucket = _Bucket(tokens=_capacity(rate), updated_s=now, rate_per_minute=rate)
            self._buckets[principal] = bucket
        self._buckets.move_to_end(principal)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        per_second = rate / 60.0
        bucket.tokens = min(_capacity(rate), bucket.tokens + (now - bucket.updated_s) * per_second)
        bucket.updated_s = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict(True)
        return Verdict(False, (1.0 - bucket.tokens) / per_second)
