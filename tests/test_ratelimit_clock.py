"""The limiter, the retries and a pool's clients read time only from the clock they are
given: on a fake clock a billion seconds from this machine's `time.monotonic`, every pause
is measured and taken on that clock, and the run takes no real time. A limiter, a retry or
a client that read `time.monotonic` would compare the two clocks: it would wait forever
(the fake sleep never moves the real clock), or not wait at all."""

from __future__ import annotations

import asyncio
import email.utils
import itertools

import pytest
from aiohttp import web
from pydantic import SecretStr

from omnimigrate.errors import ApiStatusError
from omnimigrate.http.ratelimit import STALL_ALLOWANCE, RateLimiter
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.pool import client_pool
from tests.transport import MockSessions

URL = "https://omni.test"
SERVER_NOW = 1_000_000_000  # the server's clock, in 2001: far from this machine's


class FakeTime:
    def __init__(self) -> None:
        self.now = 1e9
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)  # the others' turn, as a real sleep gives


def within_a_second(run):  # a clock mixed up with the real one loops, on no real time
    return asyncio.wait_for(run, timeout=1.0)


async def test_pacing_and_a_429s_retry_after_run_on_the_injected_clock() -> None:
    time, arrivals = FakeTime(), []

    async def omni(request: web.BaseRequest) -> web.StreamResponse:
        arrivals.append(time.now)
        if len(arrivals) == 2:  # Retry-After as a date, 30 s after the answer's own Date
            later = email.utils.formatdate(SERVER_NOW + 30, usegmt=True)
            return web.json_response(
                {"detail": "slow down"},
                status=429,
                headers={"Retry-After": later, "Date": email.utils.formatdate(SERVER_NOW)},
            )
        return web.json_response({"labels": []})

    pool = client_pool(
        URL,
        [SecretStr("k1")],
        rate_limit=60,
        period=60.0,
        sessions=MockSessions(omni),
        clock=time.clock,
        sleep=time.sleep,
    )
    async with pool as (client,):
        interval = client.transport.limiter.interval  # before the 429 slows the key down
        for _ in range(5):  # one after the other: none is in flight when the 429 comes
            await within_a_second(client.list_labels())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) == 6 and client.transport.throttled == 1
    assert gaps[0] == pytest.approx(interval)  # paced on the fake clock, one a second
    assert 30.0 <= gaps[1] <= 30.0 + 2 * interval  # the 429's pause: the date, not 0 or 10^9
    assert all(g >= interval for g in gaps[2:])


async def test_a_clients_own_limiter_and_its_retries_cap_on_the_injected_clock() -> None:
    time, calls = FakeTime(), []

    async def down(request: web.BaseRequest) -> web.StreamResponse:
        calls.append(time.now)
        return web.json_response({"detail": "unavailable"}, status=503)

    policy = RetryPolicy(attempts=1000, max_elapsed=60.0, base_delay=10.0, max_delay=10.0)
    client = OmniClient(
        URL, "k1", sessions=MockSessions(down), retry=policy, clock=time.clock, sleep=time.sleep
    )
    async with client:
        with pytest.raises(ApiStatusError):
            await within_a_second(client.list_labels())
    # given up once 60 s had passed on the fake clock: tenacity's own timer (real time)
    # would have let all 1000 attempts through
    assert 2 < len(calls) < 100 and 60.0 <= time.now - 1e9 < 60.0 + 10.0 + 2.0
    # the default limiter (600 a minute) paced the attempts on the fake clock too
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(calls))


async def test_a_request_slower_than_its_routes_fastest_paces_the_next_from_its_lateness():
    """It may have been counted that late (held up on its way, or at a busy server's door):
    the next leaves that much later, so the two never land closer than the interval."""
    time = FakeTime()
    limiter = RateLimiter(60, 60.0, clock=time.clock, sleep=time.sleep)
    departures = []

    async def request(route: str, took: float) -> None:
        async with limiter.slot(route):
            departures.append(time.now)
            time.now += took

    await request("/a", 0.010)  # a route's first: all of its time may have been waiting
    await request("/a", 0.002)
    await request("/a", 0.092)  # 90 ms slower than the route's fastest: within STALL_ALLOWANCE
    await request("/b", 0.001)
    await request("/a", 0.502)  # lateness beyond STALL_ALLOWANCE counts as work
    await request("/a", 0.002)
    await request("/a", 0.002)
    gaps = [b - a for a, b in itertools.pairwise(departures)]
    late = [0.010, 0.0, 0.090, 0.001, STALL_ALLOWANCE, 0.0]  # the previous request's
    assert gaps == pytest.approx([limiter.interval + x for x in late])
