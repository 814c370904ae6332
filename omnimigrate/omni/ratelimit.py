"""Client-side rate limiting: one limiter per (instance, API key).

Omni allows about 60 requests a minute per key (more on request), with no documented
rate-limit headers. The limiter is asyncio-throttle's sliding window: at most `rate`
requests in any `period`. Each slot is stamped when its request *completes*, not when it
leaves the limiter: Omni sees a request arrive somewhere between the two, so counting
completions can never show Omni more than `rate` in a window, however unevenly requests
travel. (Stamping at departure let a delayed request land next to a later one and draw a
429 under load.) A 2 % stretch of the window covers a server that counts coarser time.

On a 429 every request through this limiter waits out Retry-After (not just the one that
got it), and the rate drops by 10 % per 429 episode (429s arriving while already paused are
the same episode), never below half the configured rate: a 429 means someone else shares the
key's budget. After a whole window with no 429 the rate climbs back 10 % per window to the
configured rate, so one early burst does not slow a whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from asyncio_throttle import Throttler

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

SAFETY_MARGIN = 0.02
_SLOWDOWN = 0.9
_FLOOR = 0.5


class _CompletionThrottler(Throttler):
    """asyncio-throttle's window, with a slot re-stamped when its request completes.

    Relies on `_task_logs`, the library's deque of stamps (pinned below 1.1 for that)."""

    async def acquire_stamp(self) -> float:
        await self.acquire()
        return self._task_logs[-1]

    def restamp(self, stamp: float) -> None:
        # The completion time is the newest stamp, so the deque stays ordered.
        with contextlib.suppress(ValueError):  # already aged out of the window
            self._task_logs.remove(stamp)
        self._task_logs.append(time.monotonic())


class RateLimiter:
    def __init__(
        self,
        rate: int,
        period: float = 60.0,
        *,
        safety_margin: float = SAFETY_MARGIN,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate < 1 or period <= 0:
            raise ValueError(
                f"rate limit must be at least 1 request per period, got {rate}/{period}s"
            )
        self.rate = rate
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._resume_at = 0.0
        self._calm_since = 0.0  # when the rate was last lowered or raised
        self._throttler = _CompletionThrottler(
            rate_limit=rate,
            period=period * (1 + safety_margin),
            retry_interval=min(0.05, period / rate / 10),
        )

    @property
    def current_rate(self) -> int:
        return self._throttler.rate_limit

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold a slot for one request; yields the seconds spent waiting for it."""
        start = self._clock()
        while (delay := self._resume_at - self._clock()) > 0:
            await self._sleep(delay)
        self._recover(self._clock())
        stamp = await self._throttler.acquire_stamp()
        try:
            yield self._clock() - start
        finally:
            self._throttler.restamp(stamp)

    def backoff(self, retry_after: float) -> None:
        """Omni said 429: pause everyone on this key and slow down, once per episode."""
        now = self._clock()
        if now >= self._resume_at:
            floor = max(1, int(self.rate * _FLOOR))
            self._throttler.rate_limit = max(floor, int(self._throttler.rate_limit * _SLOWDOWN))
        self._resume_at = max(self._resume_at, now + max(retry_after, 0.0))
        self._calm_since = self._resume_at

    def _recover(self, now: float) -> None:
        current = self._throttler.rate_limit
        if current < self.rate and now - self._calm_since >= self.period:
            self._throttler.rate_limit = min(self.rate, max(current + 1, int(current / _SLOWDOWN)))
            self._calm_since = now


def key_fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, safe to log and to key dicts with."""
    return hashlib.sha256(token.encode()).hexdigest()[:10]


@dataclass
class LimiterRegistry:
    """Hands out one limiter per (instance, key): callers that share a key share its budget."""

    rate: int = 60
    period: float = 60.0
    _limiters: dict[tuple[str, str], RateLimiter] = field(default_factory=dict)

    def get(self, instance: str, token: str, rate: int | None = None) -> RateLimiter:
        key = (instance, key_fingerprint(token))
        if key not in self._limiters:
            self._limiters[key] = RateLimiter(rate or self.rate, self.period)
        return self._limiters[key]
