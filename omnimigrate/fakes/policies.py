"""What the fake does besides answering: rate limits, injected faults, and a request log."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Clock = Callable[[], float]


class SlidingWindow:
    """At most `limit` requests per key in any `period` seconds, like Omni's per-key limit."""

    def __init__(self, limit: int, period: float = 60.0, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def admit(self, key: str) -> float | None:
        """Record a request; None when admitted, else seconds until a slot frees."""
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= self.period:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.period - now
        hits.append(now)
        return None

    def remaining(self, key: str) -> int:
        return max(0, self.limit - len(self._hits.get(key, ())))


class FixedWindow:
    """At most `limit` requests per key in each window of `period` seconds on the server's
    clock (windows start at multiples of `period`): a burst may straddle two windows."""

    def __init__(self, limit: int, period: float = 60.0, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._counts: dict[str, tuple[int, int]] = {}  # key -> (window number, count)

    def admit(self, key: str) -> float | None:
        now = self._clock()
        window = int(now // self.period)
        number, count = self._counts.get(key, (window, 0))
        if number != window:
            count = 0
        if count >= self.limit:
            return (window + 1) * self.period - now
        self._counts[key] = (window, count + 1)
        return None

    def remaining(self, key: str) -> int:
        number, count = self._counts.get(key, (0, 0))
        return self.limit - count if number == int(self._clock() // self.period) else self.limit


class TokenBucket:
    """`limit` tokens per `period` refill a bucket of `burst` tokens per key; a request takes
    one. The same long-run rate as a window, but at most `burst` requests at once."""

    def __init__(
        self, limit: int, period: float = 60.0, burst: int = 1, clock: Clock = time.monotonic
    ) -> None:
        self.limit = limit
        self.period = period
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.limit / self.period)

    def admit(self, key: str) -> float | None:
        now = self._clock()
        tokens = self._tokens(key, now)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) * self.period / self.limit
        self._buckets[key] = (tokens - 1, now)
        return None

    def remaining(self, key: str) -> int:
        return int(self._tokens(key, self._clock()))


Algorithm = Literal["sliding", "fixed", "bucket"]


def make_limiter(
    algorithm: Algorithm, limit: int, period: float, burst: int, clock: Clock
) -> SlidingWindow | FixedWindow | TokenBucket:
    """The server-side limiter a fake enforces: Omni documents its limit, not its algorithm."""
    if algorithm == "fixed":
        return FixedWindow(limit, period, clock)
    if algorithm == "bucket":
        return TokenBucket(limit, period, burst, clock)
    return SlidingWindow(limit, period, clock)


FaultKind = Literal["500", "502", "503", "drop", "slow"]


@dataclass
class FaultPlan:
    """Seeded, so a failing run can be replayed exactly.

    `rate` of requests get a fault drawn from `kinds`. A fault is injected either before the
    handler runs (nothing happened) or, for `after_share` of them, after it ran: the change
    is made but the client sees a 5xx or a dropped connection, the case that must never
    lead to a duplicate. `storm_every` requests a 429 storm of `storm_length` requests
    starts, each answered with Retry-After `storm_retry_after`.
    """

    seed: int = 0
    rate: float = 0.1
    kinds: tuple[FaultKind, ...] = ("500", "502", "503", "drop", "slow")
    after_share: float = 0.5
    slow_seconds: float = 0.5
    storm_every: int = 0
    storm_length: int = 5
    storm_retry_after: int = 1
    _rng: random.Random = field(init=False, repr=False)
    _count: int = field(default=0, init=False, repr=False)
    _storm_left: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def draw(self) -> tuple[FaultKind | Literal["429"] | None, bool]:
        """(fault, after_handler) for the next request."""
        self._count += 1
        if self.storm_every and self._count % self.storm_every == 0:
            self._storm_left = self.storm_length
        if self._storm_left:
            self._storm_left -= 1
            return "429", False
        if self._rng.random() >= self.rate:
            return None, False
        kind = self._rng.choice(self.kinds)
        return kind, kind != "slow" and self._rng.random() < self.after_share


@dataclass(frozen=True)
class RequestRecord:
    at: float
    key: str  # token fingerprint, never the token
    method: str
    route: str  # route template, e.g. /api/v1/documents/{identifier}
    status: int
    fault: str | None = None
    path: str = ""  # the request's actual path, e.g. /api/v1/documents/abc123


@dataclass
class RequestLog:
    records: list[RequestRecord] = field(default_factory=list)

    def count(
        self, method: str | None = None, route: str | None = None, *, ok: bool | None = None
    ) -> int:
        return sum(
            1
            for r in self.records
            if (method is None or r.method == method)
            and (route is None or r.route == route)
            and (ok is None or (r.status < 400) == ok)
        )

    def max_in_window(self, period: float, key: str | None = None) -> int:
        """The most requests one key sent within any `period` seconds (429s excluded)."""
        times = sorted(
            r.at for r in self.records if r.status != 429 and (key is None or r.key == key)
        )
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= period:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def paths(self, method: str, route: str) -> list[str]:
        """The actual paths of successful requests to one route, in order."""
        return [
            r.path
            for r in self.records
            if r.method == method and r.route == route and r.status < 400
        ]

    def writes(self) -> list[RequestRecord]:
        return [r for r in self.records if r.method != "GET"]
