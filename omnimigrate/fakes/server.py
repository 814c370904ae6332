"""The request pipeline every fake instance runs around its platform's routes.

Each request goes through, in order: fault injection, auth (the platform's scheme), the
per-key rate limit (429 + Retry-After), the platform's own refusals, the spec's check (a
violation is recorded and answered 400), the routes a test refuses, the handler,
after-the-fact faults (the change is made, the answer is lost), pruning to the declared
response schema, the response check, and the request log.

A platform's server gives its routes, its error envelope (the hooks below), how it finds a
key's owner and how it answers its own errors; the rest is here.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from aiohttp import web

from omnimigrate.fakes.conformance import Conformance, Exchange
from omnimigrate.fakes.faults import with_faults
from omnimigrate.fakes.policies import Algorithm, Clock, FaultPlan, RequestLog, make_limiter
from omnimigrate.fakes.pruning import Pruner
from omnimigrate.fakes.serving import Served
from omnimigrate.http.ratelimit import key_fingerprint

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ServerSettings:
    rate_limit: int | None = None  # requests per `period` per key; None: no limit
    period: float = 60.0
    # how the limit is enforced (neither platform says): a sliding or fixed window, or a
    # token bucket holding `burst` tokens
    limiter: Algorithm = "sliding"
    burst: int = 1
    faults: FaultPlan | None = None
    validate: bool = True
    clock: Clock = field(default=time.monotonic)


S = TypeVar("S", bound=ServerSettings)


class FakeServer(Served, Generic[S]):
    """A fake instance: the pipeline over the routes its platform's subclass gives, with the
    platform's answers for what the pipeline refuses."""

    auth_scheme = "bearer"  # the Authorization header's scheme
    client_max_size = 64 * 1024 * 1024
    public_routes: tuple[str, ...] = ()  # answered without a key, a limit or a check
    rate_headers = False  # X-RateLimit-Limit and -Remaining on every answer
    exchange_type: type[Exchange] = Exchange

    def __init__(self, settings: S, pruner: Pruner, conformance: Callable[[], Conformance]) -> None:
        self.settings = settings
        self.log = RequestLog()
        self.pruner = pruner
        self.conformance: Conformance | None = conformance() if settings.validate else None
        self.window = (
            make_limiter(
                settings.limiter, settings.rate_limit, settings.period, settings.burst,
                settings.clock,
            )
            if settings.rate_limit
            else None
        )  # fmt: skip

    # ------------------------------------------------------------------ the platform's part

    @abstractmethod
    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, route template, handler) for every route this instance serves."""

    @abstractmethod
    def authorize(self, request: web.Request, token: str | None) -> bool:
        """Whether the key is known; if so, its owner is stored on the request."""

    @abstractmethod
    async def invoke(self, request: web.Request, handler: Handler) -> web.Response:
        """The handler's answer, the platform's own errors in its envelope."""

    @abstractmethod
    def unknown_route(self, request: web.Request) -> web.Response: ...

    @abstractmethod
    def unauthorized(self) -> web.Response: ...

    @abstractmethod
    def bad_request(self, problem: str) -> web.Response:
        """The answer to a request the spec's check refused."""

    @abstractmethod
    def server_error(self, status: int) -> web.Response: ...

    @abstractmethod
    def too_many(self, wait: float) -> web.Response:
        """A 429, with Retry-After."""

    @abstractmethod
    def refused(self, route: str) -> web.Response | None:
        """The answer to a route the settings refuse for good (a test's knob)."""

    def refusal(self, request: web.Request, route: str, body: bytes | None) -> web.Response | None:
        """What the platform refuses before its spec's check."""
        return None

    def pruned(self, ex: Exchange, status: int, raw: Any) -> Any:
        return self.pruner.prune(ex.method.lower(), ex.spec_route, status, raw)

    # ------------------------------------------------------------------ app and pipeline

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._pipeline], client_max_size=self.client_max_size)
        for method, path, handler in self.routes():
            app.router.add_route(method, path, handler)
        return app

    @web.middleware
    async def _pipeline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        body = await request.read() if request.can_read_body else None
        token = _credential(request, self.auth_scheme)
        key = key_fingerprint(token) if token else "-"

        async def answer() -> web.Response:
            response = await self._handle(request, handler, route, body, token, key)
            self._rate_headers(response, key)
            return response

        fault = None
        response: web.Response | None
        if resource is None:
            response = self.unknown_route(request)
        else:
            response, fault = await with_faults(
                self.settings.faults,
                answer,
                self.server_error,
                lambda wait: self._too_many(wait, key),
            )
        if response is None:  # dropped connection
            self._record(key, request, route, 0, fault)
            raise _dropped(request)
        if resource is not None:
            ex = self.exchange_type(
                request.method, request.path, route, request.query, request.headers
            )
            self._prune(ex, response)
            if self.conformance:
                data = response.body if isinstance(response.body, bytes) else b""
                self.conformance.check_response(
                    ex, response.status, data, response.content_type, response.headers
                )
        self._record(key, request, route, response.status, fault)
        return response

    async def _handle(
        self,
        request: web.Request,
        handler: Handler,
        route: str,
        body: bytes | None,
        token: str | None,
        key: str,
    ) -> web.Response:
        if route in self.public_routes:
            return await self.invoke(request, handler)
        if not self.authorize(request, token):
            return self.unauthorized()
        # counted at the door, before the (first time per route, slow) conformance check
        if self.window is not None and (wait := self.window.admit(key)) is not None:
            return self._too_many(wait, key)
        refused = self.refusal(request, route, body)
        if refused is not None:
            return refused
        if self.conformance:
            ex = self.exchange_type(
                request.method, request.path, route, request.query, request.headers
            )
            problem = self.conformance.check_request(ex, body, request.content_type)
            if problem:
                return self.bad_request(problem)
        refused = self.refused(route)
        return refused if refused is not None else await self.invoke(request, handler)

    def _prune(self, ex: Exchange, response: web.Response) -> None:
        """Only declared fields leave the fake (fakes/pruning.py)."""
        if response.status >= 300 or response.content_type != "application/json":
            return
        if not isinstance(response.body, bytes) or not response.body:
            return
        body = self.pruned(ex, response.status, json.loads(response.body))
        response.body = json.dumps(body).encode()

    def _too_many(self, wait: float, key: str) -> web.Response:
        response = self.too_many(wait)
        self._rate_headers(response, key)
        return response

    def _rate_headers(self, response: web.Response, key: str) -> None:
        if self.rate_headers and self.window is not None:
            response.headers["X-RateLimit-Limit"] = str(self.window.limit)
            response.headers["X-RateLimit-Remaining"] = str(self.window.remaining(key))


async def answered(handler: Handler, request: web.Request) -> web.Response:
    """A route's answer: the fakes' routes all answer with a whole body."""
    return cast(web.Response, await handler(request))


def _credential(request: web.Request, scheme: str) -> str | None:
    header = request.headers.get("Authorization", "")
    given, _, value = header.partition(" ")
    return value.strip() if given.lower() == scheme and value.strip() else None


def _dropped(request: web.Request) -> BaseException:
    """Close the socket without answering: the client sees a disconnect."""
    if request.transport is not None:
        request.transport.abort()
    return asyncio.CancelledError()
