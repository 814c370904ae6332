"""Client-side rate limiting: one limiter per (instance, API key).

Omni documents "60 requests a minute per key" (more on request) but not how it counts, so
the limiter must hold under any server-side algorithm: a sliding or fixed window, or a
token bucket with a small burst. Two gates, both per key:

- **Pacing** (GCRA, the leaky bucket as a meter): requests leave one every `period / rate`
  (stretched 2 %), at most `burst` (default 1) of them early, each paced from when the one
  before actually left, and later by however much slower than its route's fastest that one
  was (up to `STALL_ALLOWANCE`): a request held up on its way, or at a busy server's door,
  is counted late, and the next must not land next to it. A server's bucket of one token
  then never runs dry, and a window never sees a clump.
- **The window** (asyncio-throttle): at most `rate` requests in any `period`, each slot
  stamped when its request *completes*. Omni sees a request arrive somewhere between
  departure and completion, so counting completions can never show Omni more than `rate` in
  a window, however unevenly requests travel.

On a 429 every request through this limiter waits out Retry-After, and the rate drops by
20 % once per 429 episode (429s arriving while already paused are the same episode), never
below half the configured rate. Each half window without a 429 it climbs back by half, so
the full rate returns within a window even from the floor. All concurrent jobs on a key
share this one budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from asyncio_throttle.throttler import Throttler

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

SAFETY_MARGIN = 0.02
# Requests travel unevenly: one held up on its way (or at the server's door) is counted later
# than it left, so the next one, paced from its departure, lands closer to it than the rate
# allows, and a server bucket of one token refuses it. How late it may have been counted is
# bounded by how much longer than its route's fastest it took, so the next leaves that much
# later, up to this much: requests of one route do about the same work, so most of a long
# wait is time before the door. A stall of a loaded machine (a process off the CPU) reaches
# 60-95 ms on a shared 2-core box: with 50 ms here, bench/ratelimit.py saw a 429 after each
# such stall. At most 10 % of Omni's one second goes to a request slow for its work's sake.
STALL_ALLOWANCE = 0.1
_SLOWDOWN = 0.8  # per 429 episode
_FLOOR = 0.5  # of the configured rate
_CLIMB = 1.5  # per calm half window


class _CompletionThrottler(Throttler):
    """asyncio-throttle's window, with a slot re-stamped when its request completes, on the
    limiter's clock and sleep rather than the library's own `time.monotonic`/`asyncio.sleep`
    (so pacing can be tested on an injected clock).

    Relies on `_task_logs`, the library's deque of stamps (pinned below 1.1 for that)."""

    def __init__(
        self, rate_limit: int, period: float, retry_interval: float, clock: Clock, sleep: Sleep
    ) -> None:
        super().__init__(rate_limit=rate_limit, period=period, retry_interval=retry_interval)
        self._clock = clock
        self._sleep = sleep

    def flush(self) -> None:
        now = self._clock()
        while self._task_logs and now - self._task_logs[0] > self.period:
            self._task_logs.popleft()

    async def acquire(self) -> None:
        while True:
            self.flush()
            if len(self._task_logs) < self.rate_limit:
                break
            await self._sleep(self.retry_interval)
        self._task_logs.append(self._clock())

    async def acquire_stamp(self) -> float:
        await self.acquire()
        stamp: float = self._task_logs[-1]
        return stamp

    def restamp(self, stamp: float) -> None:
        # The completion time is the newest stamp, so the deque stays ordered.
        with contextlib.suppress(ValueError):  # already aged out of the window
            self._task_logs.remove(stamp)
        self._task_logs.append(self._clock())


class RateLimiter:
    def __init__(
        self,
        rate: int,
        period: float = 60.0,
        *,
        burst: int = 1,
        safety_margin: float = SAFETY_MARGIN,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate < 1 or period <= 0:
            raise ValueError(
                f"rate limit must be at least 1 request per period, got {rate}/{period}s"
            )
        if burst < 1:
            raise ValueError(f"rate burst must be at least 1, got {burst}")
        self.rate = rate
        self.period = period
        self.burst = burst
        self._stretch = 1 + safety_margin
        self._clock = clock
        self._sleep = sleep
        self._current = float(rate)
        self._next_at = 0.0  # GCRA: when the next request is due
        self._resume_at = 0.0
        self._calm_since = 0.0  # when the rate was last lowered or raised
        self._turns = asyncio.Lock()  # requests take their paced turns in arrival order
        self._fastest: dict[str, float] = {}  # route -> its fastest answer on this key
        self._throttler = _CompletionThrottler(
            rate_limit=rate,
            period=period * self._stretch,
            retry_interval=min(0.05, period / rate / 10),
            clock=clock,
            sleep=sleep,
        )

    @property
    def interval(self) -> float:
        """Seconds between two requests at the current rate."""
        return self.period * self._stretch / self._current

    @contextlib.asynccontextmanager
    async def slot(self, route: str = "") -> AsyncIterator[float]:
        """Hold a slot for one request to `route`; yields the seconds spent waiting for it."""
        start = self._clock()
        stamp = await self._paced_turn()
        departed = self._clock()
        try:
            yield departed - start
        finally:
            self._throttler.restamp(stamp)
            self._answered(route, departed)

    def _answered(self, route: str, departed: float) -> None:
        """Pace the next request from when this one may have been counted: as late as it was
        slower than its route's fastest (a route's first may have waited all along: a cold
        connection, a cold server)."""
        took = self._clock() - departed
        late = min(took - self._fastest.get(route, 0.0), STALL_ALLOWANCE)
        self._fastest[route] = min(took, self._fastest.get(route, took))
        if late > 0:
            self._next_at = max(self._next_at, departed + late + self.interval)

    async def _paced_turn(self) -> float:
        """Wait for this request's turn: its paced time, then a place in the window. The
        next turn is paced from when this one actually leaves, so a wait for the window
        never lets two requests leave together."""
        async with self._turns:
            while True:
                now = self._clock()
                if self._resume_at > now:
                    await self._sleep(self._resume_at - now)
                    continue
                self._recover(now)
                due = self._next_at - (self.burst - 1) * self.interval
                if now >= due:
                    break
                await self._sleep(due - now)
            stamp = await self._throttler.acquire_stamp()
            self._next_at = max(self._next_at, self._clock()) + self.interval
            return stamp

    def backoff(self, retry_after: float) -> None:
        """Omni said 429: pause everyone on this key and slow down, once per episode."""
        now = self._clock()
        if now >= self._resume_at:
            self._set_rate(max(self.rate * _FLOOR, self._current * _SLOWDOWN))
        self._resume_at = max(self._resume_at, now + max(retry_after, 0.0))
        self._next_at = max(self._next_at, self._resume_at)
        self._calm_since = self._resume_at

    def _recover(self, now: float) -> None:
        if self._current < self.rate and now - self._calm_since >= self.period / 2:
            self._set_rate(min(float(self.rate), self._current * _CLIMB))
            self._calm_since = now

    def _set_rate(self, rate: float) -> None:
        self._current = max(1.0, rate)
        self._throttler.rate_limit = max(1, int(self._current))


def key_fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, safe to log and to key dicts with."""
    return hashlib.sha256(token.encode()).hexdigest()[:10]
