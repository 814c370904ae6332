"""A fake Omni instance over real HTTP (aiohttp), for tests, benchmarks and `omnimigrate demo`.

Its pipeline is every fake's (fakes/server.py): bearer auth, the per-key rate limit (429 +
Retry-After and X-RateLimit headers), the openapi.json check (a violation is recorded and
answered 400, as Omni answers malformed requests), faults, strict responses in the shape
`shape` names (fake/strict.py) and the request log. What is Omni's is here: its settings,
its error envelope `{detail, status}` and which of its two specs' routes it serves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

from omnimigrate.fakes.server import FakeServer, Handler, ServerSettings, answered
from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.api import Api
from omnimigrate.platforms.omni.fake.base import TOKEN_KEY, ApiError, error_response
from omnimigrate.platforms.omni.fake.conformance import OmniConformance, OmniExchange, load_openapi
from omnimigrate.platforms.omni.fake.strict import Shape, omni_pruner


@dataclass
class FakeSettings(ServerSettings):
    rate_limit: int | None = 60  # Omni's documented limit per key and minute
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


class FakeOmni(FakeServer[FakeSettings]):
    _label = "fake Omni"
    client_max_size = 256 * 1024 * 1024
    rate_headers = True
    exchange_type = OmniExchange

    def __init__(
        self, state: st.OrgState | None = None, settings: FakeSettings | None = None
    ) -> None:
        settings = settings or FakeSettings()
        pruner = omni_pruner(load_openapi()[1], settings.shape)
        super().__init__(settings, pruner, lambda: OmniConformance(pruner.seed_schema))
        self.state = state or st.OrgState()
        self.api = Api(
            self.state,
            max_page_size=settings.max_page_size,
            export_flavour=settings.export_flavour,
            shape=settings.shape,
            renew_query_keys=settings.renew_query_keys,
            trash_keeps_identifier=settings.trash_keeps_identifier,
        )

    def routes(self) -> list[tuple[str, str, Handler]]:
        """The API's routes this instance serves: "official" is today's Omni, "seed" an older
        one, "both" every route either document gives."""
        skip = {"official": "seed", "seed": "current", "both": None}[self.settings.routes]
        return [(r.method, r.path, r.handler) for r in self.api.routes() if r.generation != skip]

    def authorize(self, request: web.Request, token: str | None) -> bool:
        known = self.state.tokens.get(token or "")
        if known is not None:
            request[TOKEN_KEY] = known
        return known is not None

    async def invoke(self, request: web.Request, handler: Handler) -> web.Response:
        try:
            return await answered(handler, request)
        except ApiError as err:
            return error_response(err.status, err.detail)

    def unknown_route(self, request: web.Request) -> web.Response:
        return error_response(404, f"Not Found: {request.method} {request.path}")

    def unauthorized(self) -> web.Response:
        return error_response(401, "Unauthorized: Missing or invalid API key")

    def bad_request(self, problem: str) -> web.Response:
        return error_response(400, f"Bad Request: {problem}")

    def server_error(self, status: int) -> web.Response:
        return error_response(status, "Internal server error")

    def too_many(self, wait: float) -> web.Response:
        limit = self.settings.rate_limit or 0
        per = "minute" if self.settings.period == 60 else f"{self.settings.period:g}s"
        return error_response(
            429,
            f"Rate limit exceeded ({limit} requests/{per})",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )

    def refused(self, route: str) -> web.Response | None:
        refused = self.settings.refuse.get(route)
        return error_response(*refused) if refused is not None else None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.api.base_url = await super().start(host, port)  # document and folder URLs name it
        return self.url
