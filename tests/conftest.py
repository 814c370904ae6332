"""Shared fixtures: fake Omni instances over real HTTP on loopback.

Every fake started here validates each request and response against openapi.json; a test
fails at teardown if the fake saw any violation, unless it asserts them itself and says so
with the `expect_violations` marker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from omnimigrate.fake.scenario import Scenario, ScenarioSpec, generate
from omnimigrate.fake.server import FakeOmni, FakeSettings
from omnimigrate.logging import configure_logging
from omnimigrate.omni.client import OmniClient
from omnimigrate.omni.ratelimit import RateLimiter
from omnimigrate.omni.retry import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=8, max_elapsed=120, base_delay=0.01, max_delay=0.2)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "expect_violations: the test checks the fake's violations itself"
    )
    configure_logging(level="warning", fmt="json")


@pytest.fixture
def scenario() -> Scenario:
    return generate(ScenarioSpec())


@pytest.fixture
async def start_fake(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., object]]:
    """`await start_fake(state, settings)` -> a running FakeOmni; stopped and checked at teardown."""
    started: list[FakeOmni] = []

    async def start(state=None, settings: FakeSettings | None = None) -> FakeOmni:
        fake = FakeOmni(state, settings or FakeSettings(rate_limit=None))
        await fake.start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        await fake.stop()
    if request.node.get_closest_marker("expect_violations") is None:
        violations = [str(v) for fake in started for v in fake.violations]
        assert violations == [], "the fake saw requests or responses that break openapi.json"


def client_for(
    fake: FakeOmni,
    token: str,
    *,
    rate: int = 100_000,
    period: float = 1.0,
    retry: RetryPolicy = FAST_RETRY,
    **kw: object,
) -> OmniClient:
    return OmniClient(fake.url, token, limiter=RateLimiter(rate, period), retry=retry, **kw)
