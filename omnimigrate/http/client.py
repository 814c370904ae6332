"""What every platform's API client is built on: one instance, one key, its transport
(with the key's limiter), the retry policy, and one call with retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Self, TypeVar

import aiohttp
from pydantic import SecretStr

from omnimigrate.errors import hint_for
from omnimigrate.http.ratelimit import Clock, RateLimiter, Sleep
from omnimigrate.http.retry import RetryPolicy, call_with_retries
from omnimigrate.http.sessions import SessionFactory, open_session
from omnimigrate.http.transport import Hints, Observer, Reply, Transport


class ApiClient:
    """A platform's client subclasses this with its `platform` name, its auth `scheme` and
    its error `_hints`; `session` is shared by the clients of a pool, else one of its own is
    opened from `sessions`."""

    platform = ""
    scheme = "Bearer"
    _hints: Hints = staticmethod(hint_for)
    default_rate = 60  # requests a minute when no limiter is given

    def __init__(
        self,
        base_url: str,
        token: str | SecretStr,
        *,
        session: aiohttp.ClientSession | None = None,
        sessions: SessionFactory = open_session,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 120.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        observer: Observer | None = None,
    ) -> None:
        self._own_session = session is None
        self._session = session or sessions()
        self.transport = Transport(
            base_url,
            token,
            session=self._session,
            limiter=limiter or RateLimiter(self.default_rate, clock=clock, sleep=sleep),
            timeout=timeout,
            clock=clock,
            observer=observer,
            scheme=self.scheme,
            hints=self._hints,
            platform=self.platform,
        )
        self.retry = retry or RetryPolicy()
        self._clock, self._sleep = clock, sleep

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, key={self.transport.key_id})"

    async def close(self) -> None:
        if self._own_session:
            await self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(
        self,
        method: str,
        route: str,
        *,
        path: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        recover: Callable[[], Awaitable[Reply | None]] | None = None,
    ) -> Reply:
        """One call with retries: a POST is retried only when `recover` can tell whether a
        lost attempt happened (or the caller says it is `idempotent`)."""

        async def attempt(number: int) -> Reply:
            return await self.transport.send(
                method, route, path_params=path, params=params, json_body=json, attempt=number
            )

        return await call_with_retries(
            attempt,
            self.retry,
            idempotent=method != "POST" if idempotent is None else idempotent,
            recover=recover,
            sleep=self._sleep,
            clock=self._clock,
        )


C = TypeVar("C", bound=ApiClient)


@asynccontextmanager
async def pool_of(
    make: type[C],
    url: str,
    tokens: list[SecretStr],
    *,
    rate_limit: int,
    period: float = 60.0,
    burst: int = 1,
    retry: RetryPolicy | None = None,
    timeout: float = 120.0,
    observer: Observer | None = None,
    sessions: SessionFactory = open_session,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    **scope: Any,
) -> AsyncIterator[list[C]]:
    """One client per key of an instance, sharing one session from `sessions`; each key has
    its own limiter, since limits are per key, on the pool's `clock` and `sleep`. `scope`:
    what the platform's client selects (Lightdash: `project`)."""
    async with sessions() as session:
        yield [
            make(
                url,
                token,
                session=session,
                limiter=RateLimiter(rate_limit, period, burst=burst, clock=clock, sleep=sleep),
                retry=retry,
                timeout=timeout,
                clock=clock,
                sleep=sleep,
                observer=observer,
                **scope,
            )
            for token in tokens
        ]
