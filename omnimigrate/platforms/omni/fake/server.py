"""A fake Omni instance over real HTTP (aiohttp), for tests, benchmarks and `omnimigrate demo`.

Each request goes through, in order: fault injection, bearer auth, the per-key rate limit
(429 + Retry-After), the openapi.json conformance check (a violation is recorded and
answered 400, as Omni answers malformed requests), the handler, after-the-fact faults (the
change is made, the answer is lost), the response conformance check, and the request log.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, cast

from aiohttp import web

from omnimigrate.fakes.faults import with_faults
from omnimigrate.fakes.policies import (
    Algorithm,
    Clock,
    FaultPlan,
    RequestLog,
    make_limiter,
)
from omnimigrate.fakes.serving import Served
from omnimigrate.http.ratelimit import key_fingerprint
from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.api import Api
from omnimigrate.platforms.omni.fake.base import TOKEN_KEY, ApiError, error_response
from omnimigrate.platforms.omni.fake.conformance import Conformance, Exchange, load_openapi
from omnimigrate.platforms.omni.fake.strict import Shape, omni_pruner

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FakeSettings:
    rate_limit: int | None = 60  # requests per `period` per key; None disables the limit
    period: float = 60.0
    # how the limit is enforced (Omni does not say): a sliding or fixed window, or a token
    # bucket holding `burst` tokens
    limiter: Algorithm = "sliding"
    burst: int = 1
    faults: FaultPlan | None = None
    validate: bool = True
    # "both": official routes and the older spec's aliases; "official": a current instance
    # (no update-model); "seed": an older instance (no /api/v1 YAML, PUT move only).
    routes: Literal["both", "official", "seed"] = "both"
    export_flavour: Literal["official", "seed"] = "official"
    # Responses carry only declared fields; where the spec is open, "seed" answers with the
    # older spec's documented shape and "official" with the official one (fake/strict.py).
    shape: Shape = "seed"
    # route template -> (status, detail): Omni refuses that route for good (a test's knob,
    # e.g. an admin-only list read with a key that may not)
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)
    max_page_size: int = 100
    # an import gives the document's queries new keys (random ids, not positions): neither
    # document says what Omni does, the older spec's import answer hints at it (miniUuidMap)
    renew_query_keys: bool = True
    # a deleted document sits in the trash with its identifier: an import under it answers
    # 400 "already in use" (neither document says; False: the trash gives the identifier up)
    trash_keeps_identifier: bool = True
    clock: Clock = field(default=time.monotonic)


class FakeOmni(Served):
    _label = "fake Omni"

    def __init__(
        self, state: st.OrgState | None = None, settings: FakeSettings | None = None
    ) -> None:
        self.state = state or st.OrgState()
        self.settings = settings or FakeSettings()
        self.log = RequestLog()
        self.conformance = Conformance() if self.settings.validate else None
        self.pruner = omni_pruner(load_openapi()[1], self.settings.shape)
        self.window = (
            make_limiter(
                self.settings.limiter,
                self.settings.rate_limit,
                self.settings.period,
                self.settings.burst,
                self.settings.clock,
            )
            if self.settings.rate_limit
            else None
        )
        self.api = Api(
            self.state,
            max_page_size=self.settings.max_page_size,
            export_flavour=self.settings.export_flavour,
            shape=self.settings.shape,
            renew_query_keys=self.settings.renew_query_keys,
            trash_keeps_identifier=self.settings.trash_keeps_identifier,
        )

    # ------------------------------------------------------------------ app

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._pipeline], client_max_size=256 * 1024 * 1024)
        for method, path, handler in self._routes():
            app.router.add_route(method, path, handler)
        return app

    def _routes(self) -> list[tuple[str, str, Handler]]:
        """The API's routes this instance serves: "official" is today's Omni, "seed" an older
        one, "both" every route either document gives."""
        skip = {"official": "seed", "seed": "current", "both": None}[self.settings.routes]
        return [(r.method, r.path, r.handler) for r in self.api.routes() if r.generation != skip]

    # ------------------------------------------------------------------ pipeline

    @web.middleware
    async def _pipeline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        body = await request.read() if request.can_read_body else None
        token = _bearer(request)
        key = key_fingerprint(token) if token else "-"
        fault = None
        response: web.Response | None
        if resource is None:
            response = error_response(404, f"Not Found: {request.method} {request.path}")
        else:
            response, fault = await self._answer(request, handler, route, body, token, key)
        if response is None:  # dropped connection
            self._record(key, request, route, 0, fault)
            raise _dropped(request)
        if resource is not None:
            exchange = _exchange(request, route)
            self._prune(exchange, response)
            if self.conformance:
                data = response.body if isinstance(response.body, bytes) else b""
                self.conformance.check_response(
                    exchange,
                    response.status,
                    data,
                    response.content_type,
                    response.headers,
                    self.pruner.seed_schema(exchange.method.lower(), exchange.spec_route),
                )
        self._record(key, request, route, response.status, fault)
        return response

    async def _answer(
        self,
        request: web.Request,
        handler: Handler,
        route: str,
        body: bytes | None,
        token: str | None,
        key: str,
    ) -> tuple[web.Response | None, str | None]:
        async def answer() -> web.Response:
            response = await self._handle(request, handler, route, body, token, key)
            self._rate_headers(response, key)
            return response

        return await with_faults(
            self.settings.faults,
            answer,
            lambda status: error_response(status, "Internal server error"),
            lambda wait: self._too_many(wait, key),
        )

    async def _handle(
        self,
        request: web.Request,
        handler: Handler,
        route: str,
        body: bytes | None,
        token: str | None,
        key: str,
    ) -> web.Response:
        known = self.state.tokens.get(token or "")
        if known is None:
            return error_response(401, "Unauthorized: Missing or invalid API key")
        # counted at the door, before the (first time per route, slow) conformance check
        if self.window is not None and (wait := self.window.admit(key)) is not None:
            return self._too_many(wait, key)
        problem = None
        if self.conformance:
            problem = self.conformance.check_request(
                _exchange(request, route), body, request.content_type
            )
        if problem:
            return error_response(400, f"Bad Request: {problem}")
        if route in self.settings.refuse:
            return error_response(*self.settings.refuse[route])
        request[TOKEN_KEY] = known
        try:
            # the routes are the API's handlers, which all answer with a whole body
            return cast(web.Response, await handler(request))
        except ApiError as err:
            return error_response(err.status, err.detail)

    def _prune(self, ex: Exchange, response: web.Response) -> None:
        """Only declared fields leave the fake (fake/strict.py)."""
        if response.status >= 300 or response.content_type != "application/json":
            return
        if not isinstance(response.body, bytes) or not response.body:
            return
        body = self.pruner.prune(
            ex.method.lower(), ex.spec_route, response.status, json.loads(response.body)
        )
        response.body = json.dumps(body).encode()

    def _too_many(self, wait: float, key: str) -> web.Response:
        limit = self.settings.rate_limit or 0
        per = "minute" if self.settings.period == 60 else f"{self.settings.period:g}s"
        response = error_response(
            429,
            f"Rate limit exceeded ({limit} requests/{per})",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
        self._rate_headers(response, key)
        return response

    def _rate_headers(self, response: web.Response, key: str) -> None:
        if self.window is not None:
            response.headers["X-RateLimit-Limit"] = str(self.window.limit)
            response.headers["X-RateLimit-Remaining"] = str(self.window.remaining(key))

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.api.base_url = await super().start(host, port)  # document and folder URLs name it
        return self.url


def _exchange(request: web.Request, route: str) -> Exchange:
    return Exchange(request.method, request.path, route, request.query, request.headers)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _dropped(request: web.Request) -> BaseException:
    """Close the socket without answering: the client sees a disconnect."""
    if request.transport is not None:
        request.transport.abort()
    return asyncio.CancelledError()
