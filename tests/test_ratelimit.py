"""The client stays within Omni's per-key limit under any server-side limiter, shares one
budget among a key's concurrent jobs, obeys 429s and recovers from them.

How much of the limit it uses is a figure, not a test: `bench/ratelimit.py` prints it.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.fakes.policies import (
    FaultPlan,
    FixedWindow,
    SlidingWindow,
    TokenBucket,
)
from omnimigrate.http.ratelimit import RateLimiter
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.fake.process import start_fake
from omnimigrate.platforms.omni.fake.server import FakeSettings
from omnimigrate.snapshot.store import LocalStore
from tests.conftest import FAST_RETRY, client_for

LIMIT, PERIOD = 10, 1.0  # 600 a minute: Omni's 60/min scaled so a test takes seconds
# Time runs ten times faster than Omni's 60/min here, but the machine's pauses do not shrink
# with it: a 10 ms stall of either process is 1 % of Omni's interval and 10 % of this one. So
# the paced clients keep about 15 ms of slack per request, less than the 25 ms the default
# margin gives at Omni's real rate (`bench/ratelimit.py --realtime` measures that one).
SCALED_MARGIN = 0.1


async def requests(client, n: int, concurrency: int = 8) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await client.list_labels()

    await asyncio.gather(*(one() for _ in range(n)))


@pytest.fixture
def served(tmp_path):
    """`served(limiter, burst)` -> (URL, org key) of a fake in its own process (so the
    client's work cannot delay the server's clock) enforcing LIMIT that way. It does not
    validate against openapi.json: on a slow machine that CPU work (up to 150 ms for a list
    of users) holds up the server's own loop, so requests that arrived apart are admitted
    together, which no client pacing can prevent. Conformance has its own tests."""
    procs = []

    def start(limiter: str, burst: int, documents: int = 0) -> tuple[str, str]:
        proc, url, token = start_fake(
            documents, LIMIT, PERIOD, tmp_path, limiter=(limiter, burst), validate=False
        )
        procs.append(proc)
        return url, token

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait()


def paced_client(url: str, token: str) -> OmniClient:
    limiter = RateLimiter(LIMIT, PERIOD, safety_margin=SCALED_MARGIN)
    return OmniClient(url, token, limiter=limiter, retry=FAST_RETRY)


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize(
    "limiter,burst", [("bucket", 1), ("bucket", 5), ("fixed", 1), ("sliding", 1)]
)
async def test_steady_traffic_is_never_refused_whatever_the_server_counts(served, limiter, burst):
    async with paced_client(*served(limiter, burst)) as client:
        await requests(client, 40)
        assert client.transport.requests == 40
        assert client.transport.throttled == 0, "no request may be refused"


@pytest.mark.slow
@pytest.mark.serial
async def test_three_concurrent_jobs_share_one_keys_budget(served, tmp_path):
    """A backup's jobs run three at a time on one key: together they keep its pace, so a
    token bucket of one refuses none of them."""
    async with paced_client(*served("bucket", 1, documents=6)) as client:
        outcome = await run_backup(
            [client],
            LocalStore(tmp_path / "store"),
            BackupOptions(concurrency=3),
            cache_dir=tmp_path / "cache",
        )
        assert outcome.manifest.status == "complete"
        assert client.transport.requests > 3 * LIMIT  # long enough for jobs to overlap
        assert client.transport.throttled == 0


def paced_as(limiter: RateLimiter, rate: int) -> bool:
    """Does the limiter space requests as one configured for `rate` does?"""
    return limiter.interval == pytest.approx(RateLimiter(rate, limiter.period).interval)


@pytest.mark.slow
@pytest.mark.serial
async def test_a_429_storm_is_followed_by_recovery_to_the_full_rate(start_fake, scenario):
    faults = FaultPlan(rate=0.0, storm_every=10, storm_length=4, storm_retry_after=1)
    settings = FakeSettings(rate_limit=LIMIT, period=PERIOD, faults=faults)
    fake = await start_fake(scenario.state, settings)
    async with client_for(fake, scenario.org_token, rate=LIMIT, period=PERIOD) as client:
        limiter = client.transport.limiter
        await requests(client, 12)  # through the first storm
        slowed = limiter.interval
        faults.storm_every = 0  # calm from here on
        await requests(client, 3 * LIMIT)
    assert slowed > RateLimiter(LIMIT, PERIOD).interval, "the storm did not slow the key down"
    assert paced_as(limiter, LIMIT), "the rate did not climb back"


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
    assert paced_as(limiter, 48)  # slowed by 20 %
    for _ in range(20):
        limiter.backoff(0)
    assert paced_as(limiter, 30)  # never below half the configured rate


async def test_requests_leave_evenly_spaced_with_at_most_the_burst_early():
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(60, 60.0, burst=2, clock=lambda: now[0], sleep=sleep)
    departures = []
    for _ in range(5):
        async with limiter.slot():
            departures.append(now[0])
    gaps = [b - a for a, b in itertools.pairwise(departures)]
    assert departures[0] == departures[1] == 0.0  # the burst of two
    assert all(gap == pytest.approx(limiter.interval) for gap in gaps[1:])
    assert limiter.interval == pytest.approx(1.02)  # 2 % stretch


async def test_the_window_counts_a_slot_from_when_its_request_completes():
    """On an injected clock: three requests each held 1 s fill a window of three; the fourth
    leaves only once the first *completion* (not departure) has aged out of the window."""
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(3, 3.0, burst=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        async with limiter.slot():
            now[0] += 1.0  # the request is in flight for a second
    async with limiter.slot() as waited:
        departed = now[0]
    window = 3.0 * 1.02  # the period, stretched by the safety margin
    assert departed > 1.0 + window  # the first completed at 1.0
    assert departed < 1.0 + window + 0.1 and waited == pytest.approx(departed - 3.0)


async def test_a_429_burst_slows_once_and_the_rate_recovers_within_two_windows():
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(100, 10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(8):  # eight concurrent requests answered 429 together: one episode
        limiter.backoff(2.0)
    assert paced_as(limiter, 80)
    now[0] += 3.0
    for _ in range(5):  # new episodes after each pause, down to the floor
        limiter.backoff(0.0)
        now[0] += 0.1
    assert paced_as(limiter, 50)
    recovered_at = None
    while recovered_at is None:
        async with limiter.slot():
            if paced_as(limiter, 100):
                recovered_at = now[0]
    assert recovered_at - 3.5 <= 2 * 10.0  # from half the rate back to all of it


def test_the_fakes_limiters_count_as_named():
    clock = [0.0]
    sliding, fixed = SlidingWindow(2, 1.0, lambda: clock[0]), FixedWindow(2, 1.0, lambda: clock[0])
    bucket = TokenBucket(2, 1.0, burst=1, clock=lambda: clock[0])
    clock[0] = 0.9
    assert [sliding.admit("k"), sliding.admit("k")] == [None, None]
    assert [fixed.admit("k"), fixed.admit("k")] == [None, None]
    assert bucket.admit("k") is None and bucket.admit("k") == pytest.approx(0.5)
    clock[0] = 1.1  # a new fixed window; the sliding one still holds both
    assert fixed.admit("k") is None and sliding.admit("k") == pytest.approx(0.8)
