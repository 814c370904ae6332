"""Retry policy, tested without waiting: the sleep is injected."""

from __future__ import annotations

import email.utils

import pytest

from omnimigrate.errors import ApiStatusError, TransportError, api_error
from omnimigrate.http.retry import RetryPolicy, call_with_retries
from omnimigrate.http.transport import normalize_base_url, parse_retry_after

POLICY = RetryPolicy(attempts=5, max_elapsed=1000, base_delay=1.0, max_delay=8.0)


class Script:
    """Fails with the given errors in turn, then returns 'ok'."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.slept: list[float] = []

    async def attempt(self, number: int) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def err(status: int, retry_after: float | None = None) -> ApiStatusError:
    return api_error(status, "boom", method="POST", route="/api/x", retry_after=retry_after)


async def test_429_waits_its_retry_after():
    s = Script(err(429, retry_after=7), err(503))
    assert await call_with_retries(s.attempt, POLICY, idempotent=True, sleep=s.sleep) == "ok"
    assert s.calls == 3 and s.slept[0] == 7 and 0 <= s.slept[1] <= 2


async def test_bounded_attempts_then_the_last_error():
    s = Script(*[err(500)] * 10)
    with pytest.raises(ApiStatusError):
        await call_with_retries(s.attempt, POLICY, idempotent=True, sleep=s.sleep)
    assert s.calls == 5 and all(x <= 8.0 for x in s.slept)


async def test_client_errors_are_not_retried():
    s = Script(err(400))
    with pytest.raises(ApiStatusError):
        await call_with_retries(s.attempt, POLICY, idempotent=True, sleep=s.sleep)
    assert s.calls == 1


async def test_ambiguous_write_is_looked_up_not_resent():
    s = Script(TransportError("reset", maybe_applied=True))
    lookups: list[int] = []

    async def recover() -> str | None:
        lookups.append(1)
        return "found"

    assert (
        await call_with_retries(s.attempt, POLICY, idempotent=False, recover=recover, sleep=s.sleep)
        == "found"
    )
    assert s.calls == 1 and lookups == [1]


async def test_ambiguous_write_resent_when_lookup_finds_nothing():
    s = Script(err(502))

    async def recover() -> str | None:
        return None

    assert (
        await call_with_retries(s.attempt, POLICY, idempotent=False, recover=recover, sleep=s.sleep)
        == "ok"
    )
    assert s.calls == 2


async def test_ambiguous_write_without_lookup_is_not_retried():
    s = Script(err(502))
    with pytest.raises(ApiStatusError):
        await call_with_retries(s.attempt, POLICY, idempotent=False, sleep=s.sleep)
    assert s.calls == 1


async def test_unapplied_write_is_retried_without_lookup():
    s = Script(err(429, retry_after=1), TransportError("refused", maybe_applied=False))
    assert await call_with_retries(s.attempt, POLICY, idempotent=False, sleep=s.sleep) == "ok"
    assert s.calls == 3


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("12") == 12.0
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == pytest.approx(30, abs=1)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.omniapp.co",
        "https://acme.omniapp.co/",
        "https://acme.omniapp.co/api",
        "https://acme.omniapp.co/api/",
        " https://acme.omniapp.co/api ",
    ],
)
def test_instance_url_forms(url):
    assert normalize_base_url(url) == "https://acme.omniapp.co"


def test_bad_instance_url():
    with pytest.raises(ValueError, match="give the instance origin"):
        normalize_base_url("acme.omniapp.co")


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422, 501, 505])
async def test_answers_that_cannot_change_are_asked_once(status):
    s = Script(err(status))
    with pytest.raises(ApiStatusError):
        await call_with_retries(s.attempt, POLICY, idempotent=True, sleep=s.sleep)
    assert s.calls == 1 and s.slept == []


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_answers_that_may_change_are_retried(status):
    s = Script(err(status))
    assert await call_with_retries(s.attempt, POLICY, idempotent=True, sleep=s.sleep) == "ok"
    assert s.calls == 2
