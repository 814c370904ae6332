"""The client stays under Omni's per-key limit, uses nearly all of it, and obeys 429s."""

from __future__ import annotations

import asyncio
import time

from omnimigrate.fake.server import FakeSettings
from omnimigrate.omni.ratelimit import LimiterRegistry, RateLimiter
from tests.conftest import client_for

LIMIT, PERIOD = 50, 1.0  # 3,000 requests a minute: Omni's 60/min scaled up so the test is quick


async def test_burst_of_300_stays_under_the_limit_and_uses_it(start_fake, scenario):
    fake = await start_fake(scenario.state, FakeSettings(rate_limit=LIMIT, period=PERIOD))
    async with client_for(fake, scenario.org_token, rate=LIMIT, period=PERIOD) as client:
        gate = asyncio.Semaphore(16)

        async def one() -> int:
            async with gate:
                return len(await client.list_labels())

        started = time.monotonic()
        results = await asyncio.gather(*(one() for _ in range(300)))
        elapsed = time.monotonic() - started
    assert all(n == len(scenario.state.labels) for n in results)
    assert fake.log.count(ok=False) == 0, "no request may fail, 429 included"
    assert fake.log.max_in_window(PERIOD) <= LIMIT
    # The first window's burst is free; after it, the rate should be close to the limit.
    arrivals = sorted(r.at for r in fake.log.records)
    steady = (len(arrivals) - LIMIT) / (arrivals[-1] - arrivals[0])
    assert steady >= 0.9 * LIMIT / PERIOD, (
        f"used {steady / (LIMIT / PERIOD):.0%} of the limit in {elapsed:.1f}s"
    )


async def test_429_pauses_every_request_on_the_key():
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(60, 60.0, clock=lambda: now[0], sleep=sleep)
    limiter.backoff(7.0)
    async with limiter.slot() as waited:
        assert waited == 7.0 and slept == [7.0]
    assert limiter.current_rate == 54  # slowed by 10 %
    for _ in range(20):
        limiter.backoff(0)
    assert limiter.current_rate == 30  # never below half the configured rate


def test_limiters_are_per_instance_and_key():
    registry = LimiterRegistry(rate=60)
    a = registry.get("https://a.omniapp.co", "token-1")
    assert registry.get("https://a.omniapp.co", "token-1") is a
    assert registry.get("https://a.omniapp.co", "token-2") is not a
    assert registry.get("https://b.omniapp.co", "token-1") is not a


async def test_a_429_burst_slows_once_and_the_rate_recovers_after_calm_windows():
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(100, 10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(8):  # eight concurrent requests answered 429 together: one episode
        limiter.backoff(2.0)
    assert limiter.current_rate == 90
    now[0] += 3.0
    limiter.backoff(1.0)  # a new episode after the pause
    assert limiter.current_rate == 81
    for _ in range(3):  # a calm window each time: +10 % per window, up to the limit
        now[0] += 10.5
        async with limiter.slot():
            pass
    assert limiter.current_rate == 100
