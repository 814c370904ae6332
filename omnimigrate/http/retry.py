"""Bounded, jittered retries for one logical Omni call (on tenacity).

Retried: transport errors, 408, 429 and 5xx other than 501 and 505; any other answer would
come back the same (`permanent`). A 429 waits its Retry-After (the limiter
pauses every other request on the key meanwhile); everything else backs off exponentially
with full jitter. Attempts and total time are both capped, the time on the caller's clock:
tenacity's own `stop_after_delay` reads `time.monotonic`, which a test's clock does not move.

A non-idempotent write (import, create) is never resent blindly. After a failure that may
have been applied (a 5xx, a timeout, a dropped connection) the caller's `recover` looks the
object up first: if it exists, that is the result; if not, the write is sent again; with no
`recover` the error is raised. Failures that were certainly not applied (429, connection
refused) are retried as usual.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_random_exponential,
)

from omnimigrate.errors import ApiStatusError, TransportError
from omnimigrate.http.ratelimit import Clock, Sleep

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    max_elapsed: float = 900.0
    base_delay: float = 1.0
    max_delay: float = 60.0


NEVER_RETRIED = (501, 505)  # Not Implemented, HTTP Version Not Supported: they will not change


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, TransportError):
        return True
    return isinstance(exc, ApiStatusError) and (
        exc.status in (408, 429) or (exc.status >= 500 and exc.status not in NEVER_RETRIED)
    )


def permanent(exc: BaseException) -> bool:
    """An answer from Omni that asking again would not change (4xx but 408/429, 501, 505)."""
    return isinstance(exc, ApiStatusError) and not is_retryable(exc)


def maybe_applied(exc: BaseException) -> bool:
    """Could Omni have carried the request out even though we saw a failure?"""
    if isinstance(exc, TransportError):
        return exc.maybe_applied
    return isinstance(exc, ApiStatusError) and (exc.status == 408 or exc.status >= 500)


async def call_with_retries(
    attempt_once: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    recover: Callable[[], Awaitable[T | None]] | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> T:
    """Run `attempt_once(attempt_number)` until it succeeds or the policy gives up."""
    started = clock()

    def stop(state: RetryCallState) -> bool:
        return state.attempt_number >= policy.attempts or clock() - started >= policy.max_elapsed

    def should_retry(exc: BaseException) -> bool:
        if not is_retryable(exc):
            return False
        return idempotent or not maybe_applied(exc) or recover is not None

    backoff = wait_random_exponential(multiplier=policy.base_delay, max=policy.max_delay)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ApiStatusError) and exc.status == 429 and exc.retry_after is not None:
            return exc.retry_after
        return backoff(state)

    retrying = AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(should_retry),
        sleep=sleep,
        reraise=True,
    )
    last_failure: BaseException | None = None
    async for attempt in retrying:
        with attempt:
            number = attempt.retry_state.attempt_number
            if recover is not None and last_failure is not None and maybe_applied(last_failure):
                found = await recover()
                if found is not None:
                    return found
            try:
                return await attempt_once(number)
            except BaseException as exc:
                last_failure = exc
                raise
    raise AssertionError("unreachable: tenacity re-raises the last failure")
