"""A fake Lightdash instance over real HTTP (aiohttp), for tests, benchmarks and
`omnimigrate demo --platform lightdash`.

Each request goes through, in order: fault injection, `ApiKey` auth, an optional per-key
rate limit (Lightdash documents none; 429 + Retry-After when set), the openapi.json check (a
violation is recorded and answered 400 in Lightdash's error envelope), the handler,
after-the-fact faults (the change is made, the answer is lost), pruning to the declared
response schema (fake/strict.py's Pruner), the response check, and the request log.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from aiohttp import web

from omnimigrate.fakes.faults import with_faults
from omnimigrate.fakes.policies import (
    Clock,
    FaultPlan,
    RequestLog,
    make_limiter,
)
from omnimigrate.fakes.pruning import Pruner
from omnimigrate.fakes.serving import Served
from omnimigrate.http.ratelimit import key_fingerprint
from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.api import Api
from omnimigrate.platforms.lightdash.fake.base import (
    USER_KEY,
    Handler,
    LightdashError,
    error_response,
)
from omnimigrate.platforms.lightdash.fake.conformance import Conformance, load_openapi


@dataclass
class LightdashSettings:
    rate_limit: int | None = None  # requests per `period` per key; Lightdash documents none
    period: float = 60.0
    faults: FaultPlan | None = None
    validate: bool = True
    # the release played: "0.1471.0" (its spec, openapi.json) or "1.219.0" (openapi-1.219.0.json,
    # and what the real 1.219 server answered: ../shared/real-lightdash/README.md)
    version: str = "0.1471.0"
    # content-as-code downloads per page (Lightdash does not document its page size)
    code_page_size: int = 100
    # serve `parentSpaceUuid` (a Lightdash newer than the 0.1471.0 spec, which has no nesting)
    nested_spaces: bool = False
    # creating a space gives its creator a direct admin share, as Lightdash does
    creator_share: bool = True
    # status reads a validation job answers `started` to before `completed` (Lightdash runs
    # it in its scheduler worker; a test's knob for the client's polling)
    validation_polls: int = 0
    # route template -> (status, error name, message): refused for good (a test's knob, e.g.
    # a server without the web app's scheduler routes)
    refuse: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    clock: Clock = field(default=time.monotonic)


class FakeLightdash(Served):
    _label = "fake Lightdash"

    def __init__(
        self, state: st.LightdashState | None = None, settings: LightdashSettings | None = None
    ) -> None:
        self.state = state or st.LightdashState()
        self.settings = settings or LightdashSettings()
        self.log = RequestLog()
        generation = "1.219" if self.modern else "0.1471"
        self.conformance = Conformance(generation) if self.settings.validate else None
        self.pruner = Pruner(load_openapi(generation)[1])
        self.window = (
            make_limiter(
                "sliding", self.settings.rate_limit, self.settings.period, 1, self.settings.clock
            )
            if self.settings.rate_limit
            else None
        )
        self.api = Api(
            self.state,
            code_page_size=self.settings.code_page_size,
            nested=self.settings.nested_spaces or self.modern,
            version=self.settings.version,
            creator_share=self.settings.creator_share,
            validation_polls=self.settings.validation_polls,
        )

    @property
    def modern(self) -> bool:
        return int(self.settings.version.split(".")[0]) >= 1

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._pipeline], client_max_size=64 * 1024 * 1024)
        for route in self.api.routes():
            app.router.add_route(route.method, route.path, route.handler)
        return app

    @web.middleware
    async def _pipeline(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        body = await request.read() if request.can_read_body else None
        token = _api_key(request)
        key = key_fingerprint(token) if token else "-"
        fault = None
        response: web.Response | None
        if resource is None:
            response = error_response(
                404, "NotFoundError", f"Cannot {request.method} {request.path}"
            )
        else:
            response, fault = await with_faults(
                self.settings.faults,
                # the routes are the API's handlers, which all answer with a whole body
                lambda: self._handle(request, cast(Handler, handler), route, body, token, key),
                self._server_error,
                self._too_many,
            )
        if response is None:  # dropped connection
            self._record(key, request, route, 0, fault)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()
        if resource is not None:
            self._prune(request, route, response)
            if self.conformance:
                data = response.body if isinstance(response.body, bytes) else b""
                self.conformance.check_response(
                    request.method, request.path, route, response.status, data, response.headers
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
        user = self.state.tokens.get(token or "")
        if route == "/api/v1/health":  # public, as Lightdash's
            return await handler(request)
        if user is None:
            return error_response(401, "AuthorizationError", "Invalid personal access token")
        if self.window is not None and (wait := self.window.admit(key)) is not None:
            return self._too_many(wait)
        refused = self.api.refusal(route, request.method, _json(body))
        if refused is not None:
            return error_response(refused.status, refused.name, refused.message)
        if self.conformance:
            problem = self.conformance.check_request(
                request.method, request.path, route, request.query, request.headers, body
            )
            if problem:
                return error_response(400, "ParameterError", problem)
        if route in self.settings.refuse:
            return error_response(*self.settings.refuse[route])
        request[USER_KEY] = user
        try:
            return await handler(request)
        except LightdashError as err:
            return error_response(err.status, err.name, err.message)

    def _server_error(self, status: int) -> web.Response:
        return error_response(status, "UnexpectedServerError", "Something went wrong")

    def _prune(self, request: web.Request, route: str, response: web.Response) -> None:
        """Only declared fields leave the fake."""
        if response.status >= 300 or not isinstance(response.body, bytes) or not response.body:
            return
        if route == "/api/v1/health":  # in neither spec: nothing to prune to
            return
        raw = json.loads(response.body)
        body = self.pruner.prune(request.method.lower(), route, response.status, raw)
        if self.settings.nested_spaces and not self.modern and "/spaces" in route:
            _keep_parents(raw, body)
        response.body = json.dumps(body).encode()

    def _too_many(self, wait: float) -> web.Response:
        return error_response(
            429,
            "TooManyRequestsError",
            "Too many requests",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


def _json(body: bytes | None) -> object:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _api_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "apikey" and value.strip() else None


def _keep_parents(raw: dict, pruned: dict) -> None:
    """A newer Lightdash's `parentSpaceUuid`, which the 0.1471.0 spec does not declare."""
    results = raw.get("results")
    if results is None:
        return
    items = results if isinstance(results, list) else [results]
    kept = pruned["results"] if isinstance(results, list) else [pruned["results"]]
    for source, out in zip(items, kept, strict=True):
        if isinstance(source, dict) and "parentSpaceUuid" in source:
            out["parentSpaceUuid"] = source["parentSpaceUuid"]
