"""A fake Lightdash instance over real HTTP (aiohttp), for tests, benchmarks and
`omnimigrate demo --platform lightdash`.

Its pipeline is every fake's (fakes/server.py): `ApiKey` auth, an optional per-key rate
limit (Lightdash documents none; 429 + Retry-After when set), the spec's check (a violation
is recorded and answered 400), faults, strict responses and the request log. What is
Lightdash's is here: its settings (the release it plays among them), its error envelope,
`/api/v1/health` answered to anyone, and what 1.219 refuses before its spec's check.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from omnimigrate.fakes.conformance import Exchange
from omnimigrate.fakes.pruning import Pruner
from omnimigrate.fakes.server import FakeServer, Handler, ServerSettings, answered
from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.api import Api
from omnimigrate.platforms.lightdash.fake.base import USER_KEY, LightdashError, error_response
from omnimigrate.platforms.lightdash.fake.conformance import LightdashConformance, load_openapi
from omnimigrate.platforms.lightdash.fake.organization import HEALTH


@dataclass
class LightdashSettings(ServerSettings):
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


class FakeLightdash(FakeServer[LightdashSettings]):
    _label = "fake Lightdash"
    auth_scheme = "apikey"
    public_routes = (HEALTH,)  # as Lightdash's

    def __init__(
        self, state: st.LightdashState | None = None, settings: LightdashSettings | None = None
    ) -> None:
        settings = settings or LightdashSettings()
        generation = "1.219" if _modern(settings) else "0.1471"
        pruner = Pruner(load_openapi(generation)[1])
        super().__init__(settings, pruner, lambda: LightdashConformance(generation))
        self.state = state or st.LightdashState()
        self.api = Api(
            self.state,
            code_page_size=settings.code_page_size,
            nested=settings.nested_spaces or self.modern,
            version=settings.version,
            creator_share=settings.creator_share,
            validation_polls=settings.validation_polls,
        )

    @property
    def modern(self) -> bool:
        return _modern(self.settings)

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [(r.method, r.path, r.handler) for r in self.api.routes()]

    def authorize(self, request: web.Request, token: str | None) -> bool:
        user = self.state.tokens.get(token or "")
        if user is not None:
            request[USER_KEY] = user
        return user is not None

    async def invoke(self, request: web.Request, handler: Handler) -> web.Response:
        try:
            return await answered(handler, request)
        except LightdashError as err:
            return error_response(err.status, err.name, err.message)

    def refusal(self, request: web.Request, route: str, body: bytes | None) -> web.Response | None:
        refused = self.api.refusal(route, request.method, _json(body))
        if refused is None:
            return None
        return error_response(refused.status, refused.name, refused.message)

    def unknown_route(self, request: web.Request) -> web.Response:
        return error_response(404, "NotFoundError", f"Cannot {request.method} {request.path}")

    def unauthorized(self) -> web.Response:
        return error_response(401, "AuthorizationError", "Invalid personal access token")

    def bad_request(self, problem: str) -> web.Response:
        return error_response(400, "ParameterError", problem)

    def server_error(self, status: int) -> web.Response:
        return error_response(status, "UnexpectedServerError", "Something went wrong")

    def too_many(self, wait: float) -> web.Response:
        return error_response(
            429,
            "TooManyRequestsError",
            "Too many requests",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )

    def refused(self, route: str) -> web.Response | None:
        refused = self.settings.refuse.get(route)
        return error_response(*refused) if refused is not None else None

    def pruned(self, ex: Exchange, status: int, raw: Any) -> Any:
        body = super().pruned(ex, status, raw)
        if self.settings.nested_spaces and not self.modern and "/spaces" in ex.route:
            _keep_parents(raw, body)
        return body


def _modern(settings: LightdashSettings) -> bool:
    return int(settings.version.split(".")[0]) >= 1


def _json(body: bytes | None) -> object:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


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
