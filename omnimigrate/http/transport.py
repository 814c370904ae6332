"""One HTTP exchange with a platform's API: rate-limit slot, request, classified outcome, one log event.

`Transport.send` makes exactly one attempt; retry policy lives in `retry.py` and the
typed API in `client.py`. Keeping the attempt here means the log line, the limiter and the
error classification are in one place for every endpoint.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import aiohttp
import structlog
from pydantic import SecretStr

from omnimigrate.errors import (
    ApiStatusError,
    TransportError,
    api_error,
    detail_of,
    hint_for,
)
from omnimigrate.http.ratelimit import Clock, RateLimiter, key_fingerprint
from omnimigrate.snapshot.manifest import KeyStats


def normalize_base_url(url: str) -> str:
    """`https://acme.omniapp.co`, `…/`, `…/api` and `…/api/` all name the same instance."""
    raw = url.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"instance URL {raw!r} is not an http(s) URL: give the instance origin, "
            "for example https://acme.omniapp.co"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/api"):
        path = path[: -len("/api")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date; a date counts from `now`, the
    answer's own `Date` when it has one (the server's clock, so a client clock that is off
    neither waits too long nor not at all), else this machine's time."""
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def http_date(headers: dict[str, str]) -> float | None:
    """The answer's `Date` header as a timestamp, or None without a readable one."""
    try:
        return parsedate_to_datetime(headers["date"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def render_path(route: str, path_params: dict[str, str]) -> str:
    """Fill a route template; every value is percent-encoded (label names have spaces)."""
    return route.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})


def query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


Observer = Callable[[str, "int | str", float], None]  # (route, status, rate-limit wait)
Hints = Callable[[int, str], str]  # (status, route) -> what the operator should do


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Transport:
    """Sends single requests to one instance with one key."""

    def __init__(
        self,
        base_url: str,
        token: str | SecretStr,
        *,
        session: aiohttp.ClientSession,
        limiter: RateLimiter,
        timeout: float = 120.0,
        clock: Clock = time.monotonic,
        observer: Observer | None = None,
        scheme: str = "Bearer",
        hints: Hints = hint_for,
        platform: str = "omni",
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._scheme = scheme  # Omni: `Bearer <key>`; Lightdash: `ApiKey <token>`
        self._hints = hints
        self._observer = observer
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        self.key_id = key_fingerprint(self._token.get_secret_value())
        self._session = session
        self.limiter = limiter
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self.requests = 0  # sent by this key, for per-key reports
        self.throttled = 0  # of which answered 429
        # when this key's first request left and its last was answered (the clock's time):
        # the stretch of a run the limiter paced, without the run's start-up and wind-down
        self.first_sent: float | None = None
        self.last_answered: float | None = None
        self._platform = platform
        self._event = f"{platform}.request"  # one log event per attempt: omni.request, …
        self._log = structlog.get_logger(f"omnimigrate.{platform}").bind(
            instance=self.base_url, key=self.key_id
        )

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, key={self.key_id})"

    async def send(
        self,
        method: str,
        route: str,
        *,
        path_params: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        attempt: int = 1,
    ) -> Reply:
        url = self.base_url + render_path(route, path_params or {})
        # a list repeats its key (`ids=a&ids=b`: OpenAPI's form style, exploded)
        query = [
            (k, query_value(item))
            for k, v in (params or {}).items()
            if v is not None
            for item in (v if isinstance(v, list) else [v])
        ]
        # encoded before the slot is taken: a large body (an import) encoded after it would
        # leave late and land next to the request paced after it
        body = None if json_body is None else json.dumps(json_body).encode()
        async with self.limiter.slot(route) as waited:
            start = self._clock()
            if self.first_sent is None:
                self.first_sent = start
            status: int | str = "cancelled"  # until something else is known
            error = ""
            self.requests += 1
            try:
                reply = await self._exchange(method, url, route, query, body)
                status = reply.status
                return reply
            except ApiStatusError as err:
                status, error = err.status, err.detail
                if err.status == 429:
                    self.throttled += 1
                    self.limiter.backoff(err.retry_after if err.retry_after is not None else 1.0)
                raise
            except TransportError as err:
                status, error = "error", err.message
                raise
            finally:
                self.last_answered = self._clock()
                if self._observer:
                    self._observer(route, status, waited)
                self._log_request(method, route, status, error, start, attempt, waited)

    def _log_request(
        self,
        method: str,
        route: str,
        status: int | str,
        error: str,
        start: float,
        attempt: int,
        waited: float,
    ) -> None:
        """Successes, expected 404 probes (does it exist? is git configured?) and requests
        cancelled because another failed are at debug: one line per request is a lot.
        Failures warn, with Omni's reason."""
        quiet = status == "cancelled" or (
            isinstance(status, int) and (status < 400 or status == 404)
        )
        (self._log.debug if quiet else self._log.warning)(
            self._event,
            method=method,
            route=route,
            status=status,
            **({"error": error} if error else {}),
            latency_ms=round((self._clock() - start) * 1000, 1),
            attempt=attempt,
            rate_limit_wait_ms=round(waited * 1000, 1),
        )

    async def _exchange(
        self, method: str, url: str, route: str, query: list[tuple[str, str]], body: bytes | None
    ) -> Reply:
        headers = {
            "Authorization": f"{self._scheme} {self._token.get_secret_value()}",
            "Accept": "application/json",
            **({"Content-Type": "application/json"} if body is not None else {}),
        }
        try:
            async with self._session.request(
                method, url, params=query, data=body, headers=headers, timeout=self._timeout
            ) as resp:
                text = await resp.text()
                reply_headers = {k.lower(): v for k, v in resp.headers.items()}
                return self._classify(method, route, resp.status, text, reply_headers)
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(
                f"cannot connect to {self.base_url}: {exc.os_error.strerror or exc}",
                method=method,
                route=route,
                hint="check the instance URL, DNS and that this machine can reach it",
            ) from exc
        except TimeoutError as exc:
            raise TransportError(
                f"no answer within {self._timeout.total:.0f}s",
                maybe_applied=True,
                method=method,
                route=route,
                hint="the instance is slow or unreachable; retry later or raise the timeout",
            ) from exc
        except aiohttp.ClientError as exc:
            raise TransportError(
                f"connection lost: {type(exc).__name__}",
                maybe_applied=True,
                method=method,
                route=route,
                hint="the connection dropped mid-request",
            ) from exc

    def _classify(
        self, method: str, route: str, status: int, text: str, headers: dict[str, str]
    ) -> Reply:
        body: Any = None
        if text:
            try:
                body = json.loads(text)
            except ValueError:
                if status < 500:
                    kind = headers.get("content-type", "unknown content type").split(";")[0]
                    raise ApiStatusError(
                        status,
                        f"response is not JSON ({kind}): {text[:60].strip()!r}",
                        method=method,
                        route=route,
                        hint=f"the URL may not be an instance of {self._platform.capitalize()}, "
                        "or a proxy or login page answered",
                    ) from None
        if status >= 400:
            retry_after = parse_retry_after(headers.get("retry-after"), http_date(headers))
            detail = detail_of(body) or " ".join(text.split())[:120] or "no error detail"
            raise api_error(
                status,
                detail,
                method=method,
                route=route,
                retry_after=retry_after,
                hint=self._hints(status, route),
            )
        return Reply(status, body, headers)


class _HasTransport(Protocol):
    transport: Transport


def key_stats(clients: Iterable[_HasTransport]) -> dict[str, KeyStats]:
    """Requests and 429s so far, per key fingerprint."""
    return {
        c.transport.key_id: KeyStats(requests=c.transport.requests, throttled=c.transport.throttled)
        for c in clients
    }
