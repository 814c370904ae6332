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
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

from omnimigrate.fake import state as st
from omnimigrate.fake.api import TOKEN_KEY, Api, ApiError, error_response
from omnimigrate.fake.conformance import Conformance, Exchange, load_openapi
from omnimigrate.fake.policies import (
    Algorithm,
    Clock,
    FaultPlan,
    RequestLog,
    RequestRecord,
    make_limiter,
)
from omnimigrate.fake.strict import Pruner, Shape
from omnimigrate.omni.ratelimit import key_fingerprint

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
    clock: Clock = field(default=time.monotonic)


class FakeOmni:
    def __init__(
        self, state: st.OrgState | None = None, settings: FakeSettings | None = None
    ) -> None:
        self.state = state or st.OrgState()
        self.settings = settings or FakeSettings()
        self.log = RequestLog()
        self.conformance = Conformance() if self.settings.validate else None
        self.pruner = Pruner(load_openapi()[1], self.settings.shape)
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
        )
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def violations(self) -> list:
        return self.conformance.violations if self.conformance else []

    # ------------------------------------------------------------------ app

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._pipeline], client_max_size=256 * 1024 * 1024)
        for method, path, handler in self._routes():
            app.router.add_route(method, path, handler)
        return app

    def _routes(self) -> list[tuple[str, str, Handler]]:
        a = self.api
        doc = "/api/v1/documents/{identifier}"
        sched = "/api/v1/schedules/{scheduleId}"
        official = [
            ("GET", "/api/v1/content", a.list_content),
            ("GET", "/api/v1/documents", a.list_documents),
            ("GET", doc, a.get_document),
            ("PATCH", doc, a.update_document),
            ("DELETE", doc, a.delete_document),
            ("GET", doc + "/queries", a.document_queries),
            ("GET", "/api/v1/dashboards/{identifier}/filters", a.dashboard_filters),
            ("GET", doc + "/access-list", a.access_list),
            *[
                (m, doc + "/permissions", a.document_permits)
                for m in ("PUT", "POST", "PATCH", "DELETE")
            ],
            ("PATCH", doc + "/labels", a.bulk_labels),
            ("PUT", doc + "/labels/{labelName}", a.document_label),
            ("DELETE", doc + "/labels/{labelName}", a.document_label),
            ("PUT", doc + "/transfer-ownership", a.transfer_ownership),
            ("GET", "/api/unstable/documents/{identifier}/export", a.export_document),
            ("POST", "/api/unstable/documents/import", a.import_document),
            ("GET", "/api/v1/folders", a.list_folders),
            ("POST", "/api/v1/folders", a.create_folder),
            ("PATCH", "/api/v1/folders/{folderId}", a.update_folder),
            ("DELETE", "/api/v1/folders/{folderId}", a.delete_folder),
            *[
                (m, "/api/v1/folders/{folderId}/permissions", a.folder_permits)
                for m in ("GET", "POST", "PATCH", "DELETE")
            ],
            ("GET", "/api/v1/labels", a.list_labels),
            ("POST", "/api/v1/labels", a.create_label),
            *[(m, "/api/v1/labels/{name}", a.label) for m in ("GET", "PUT", "DELETE")],
            ("GET", "/api/v1/models", a.list_models),
            ("GET", "/api/v1/models/{modelId}/git", a.model_git),
            ("GET", "/api/v1/models/{modelId}/validate", a.validate_model),
            ("POST", "/api/v1/models/{modelId}/refresh", a.refresh_model),
            ("GET", "/api/v1/jobs/{jobId}/status", a.job_status),
            ("GET", "/api/v1/connections", a.list_connections),
            ("GET", "/api/v1/user-attributes", a.list_user_attributes),
            ("GET", "/api/v1/schedules", a.list_schedules),
            ("POST", "/api/v1/schedules", a.create_schedule),
            *[(m, sched, a.schedule) for m in ("GET", "PUT", "DELETE")],
            ("GET", sched + "/recipients", a.schedule_recipients),
            ("PUT", sched + "/add-recipients", a.change_recipients),
            ("PUT", sched + "/remove-recipients", a.change_recipients),
            ("PUT", sched + "/pause", a.toggle_schedule),
            ("PUT", sched + "/resume", a.toggle_schedule),
            ("PUT", sched + "/transfer-ownership", a.schedule_owner),
            ("GET", "/api/scim/v2/Users", a.scim_users),
            ("POST", "/api/scim/v2/Users", a.scim_users),
            ("GET", "/api/scim/v2/Users/{id}", a.scim_user_item),
            ("PUT", "/api/scim/v2/Users/{id}", a.scim_user_item),
            ("GET", "/api/scim/v2/embed/Users", a.scim_users),
            ("GET", "/api/scim/v2/Groups", a.scim_groups),
            ("POST", "/api/scim/v2/Groups", a.scim_groups),
            *[
                (m, "/api/scim/v2/Groups/{miniUuid}", a.scim_group_item)
                for m in ("GET", "PUT", "PATCH")
            ],
            ("GET", "/api/v1/users/email-only", a.email_only),
            ("POST", "/api/v1/users/email-only", a.email_only),
            ("POST", "/api/v1/users/email-only/bulk", a.email_only),
            *[(m, "/api/v1/users/{id}/model-roles", a.model_roles) for m in ("GET", "POST")],
            *[(m, "/api/v1/user-groups/{id}/model-roles", a.model_roles) for m in ("GET", "POST")],
        ]
        current = [
            ("POST", doc + "/move", a.move_document),
            ("GET", "/api/v1/models/{modelId}/yaml", a.model_yaml),
            ("POST", "/api/v1/models/{modelId}/yaml", a.model_yaml),
        ]
        seed = [
            ("PUT", doc + "/move", a.move_document),
            ("GET", "/api/unstable/models/{modelId}/yaml", a.model_yaml),
            ("POST", "/api/unstable/models/{modelId}/yaml", a.model_yaml),
            ("PUT", "/api/unstable/documents/{identifier}/update-model", a.update_model),
        ]
        routes = self.settings.routes
        return (
            official
            + (current if routes != "seed" else [])
            + (seed if routes != "official" else [])
        )

    # ------------------------------------------------------------------ pipeline

    @web.middleware
    async def _pipeline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        body = await request.read() if request.can_read_body else None
        token = _bearer(request)
        key = key_fingerprint(token) if token else "-"
        fault = None
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
        fault, after = self.settings.faults.draw() if self.settings.faults else (None, False)
        if fault == "429":
            return self._too_many(self.settings.faults.storm_retry_after, key), fault  # type: ignore[union-attr]
        if fault == "slow":
            await asyncio.sleep(self.settings.faults.slow_seconds)  # type: ignore[union-attr]
        elif fault and not after:
            return (
                None if fault == "drop" else error_response(int(fault), "Internal server error")
            ), fault
        known = self.state.tokens.get(token or "")
        if known is None:
            return error_response(401, "Unauthorized: Missing or invalid API key"), fault
        # counted at the door, before the (first time per route, slow) conformance check
        if self.window is not None and (wait := self.window.admit(key)) is not None:
            return self._too_many(wait, key), fault
        problem = None
        if self.conformance:
            problem = self.conformance.check_request(
                _exchange(request, route), body, request.content_type
            )
        if problem:
            return error_response(400, f"Bad Request: {problem}"), fault
        if route in self.settings.refuse:
            return error_response(*self.settings.refuse[route]), fault
        request[TOKEN_KEY] = known
        try:
            response = await handler(request)
        except ApiError as err:
            response = error_response(err.status, err.detail)
        if fault and after:
            return (
                None if fault == "drop" else error_response(int(fault), "Bad gateway")
            ), f"{fault}+after"
        self._rate_headers(response, key)
        return response, fault if fault == "slow" else None

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

    def _record(
        self, key: str, request: web.Request, route: str, status: int, fault: str | None
    ) -> None:
        self.log.records.append(
            RequestRecord(
                self.settings.clock(), key, request.method, route, status, fault, request.path
            )
        )

    # ------------------------------------------------------------------ serving

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        self.api.base_url = self.url
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread with its own loop (for callers that block, like
        a CLI run with `asyncio.run` or a subprocess under test). Stop with `stop_thread`."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start(host, port))
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-omni", daemon=True)
        self._thread_loop = loop
        self._thread.start()
        if not started.wait(30):
            raise RuntimeError("the fake Omni did not start within 30 s")
        return self.url

    def stop_thread(self) -> None:
        self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
        self._thread.join(30)


def _exchange(request: web.Request, route: str) -> Exchange:
    return Exchange(request.method, request.path, route, request.query, request.headers)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _dropped(request: web.Request) -> Exception:
    """Close the socket without answering: the client sees a disconnect."""
    if request.transport is not None:
        request.transport.abort()
    return asyncio.CancelledError()
