"""Clients for one instance, one per API key, sharing a connection pool; each key has its own
rate limiter, since Omni's limit is per key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from pydantic import SecretStr

from omnimigrate.http.ratelimit import RateLimiter
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.http.transport import Observer
from omnimigrate.platforms.omni.client import OmniClient


@asynccontextmanager
async def client_pool(
    url: str,
    tokens: list[SecretStr],
    *,
    rate_limit: int,
    period: float = 60.0,
    burst: int = 1,
    retry: RetryPolicy | None = None,
    timeout: float = 120.0,
    observer: Observer | None = None,
) -> AsyncIterator[list[OmniClient]]:
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield [
            OmniClient(
                url,
                token,
                session=session,
                limiter=RateLimiter(rate_limit, period, burst=burst),
                retry=retry,
                timeout=timeout,
                observer=observer,
            )
            for token in tokens
        ]
