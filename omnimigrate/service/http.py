"""The worker's HTTP side, on two ports so that a network policy can tell them apart:

- the metrics port: /metrics for Prometheus, /healthz and /readyz for Kubernetes, all
  read-only and unauthenticated;
- the events port, only when a token is configured: POST /events hands events to the queue,
  for a bearer of that token, and only events the configuration allows (service/policy.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import SecretStr

from omnimigrate.service.event_queue import EventQueue
from omnimigrate.service.events import BadEvent, run_failed
from omnimigrate.service.metrics import Metrics
from omnimigrate.service.policy import EventGate, Refused
from omnimigrate.service.sinks import Publisher

# An event is a few hundred bytes and an S3 notification a few kilobytes.
EVENT_BODY_LIMIT = 64 * 1024


def service_app(
    metrics: Metrics, ready: Callable[[], bool], events_off: str | None = None
) -> web.Application:
    """The metrics port. `events_off` is the answer to a POST /events sent here."""

    async def metrics_view(request: web.Request) -> web.Response:
        body = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        ok = ready()
        return web.json_response({"ready": ok}, status=200 if ok else 503)

    async def not_here(request: web.Request) -> web.Response:
        return web.json_response({"detail": events_off}, status=404)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if events_off:
        app.router.add_post("/events", not_here)
    return app


def events_app(
    gate: EventGate, queue: EventQueue, publisher: Publisher, token: SecretStr
) -> web.Application:
    """The events port: authenticated, size-limited, and authorized event by event."""
    expected = f"Bearer {token.get_secret_value()}".encode()
    log = structlog.get_logger("omnimigrate.events")

    async def events(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("events.unauthorized", peer=request.remote, sent_token=bool(given))
            return web.json_response(
                {"detail": "send Authorization: Bearer <the token in the events token variable>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="omnimigrate"'},
            )
        body = await request.text()  # 413 beyond EVENT_BODY_LIMIT
        try:
            parsed = gate.parse(body)
            for event in parsed:
                gate.check(event)
        except BadEvent as exc:
            return web.json_response({"detail": str(exc)}, status=400)
        except Refused as exc:
            log.warning("events.refused", peer=request.remote, job=event.type, error=str(exc))
            await publisher.publish(run_failed(event, f"refused: {exc}"))
            return web.json_response({"detail": str(exc)}, status=403)
        for event in parsed:
            await queue.send(event.model_dump_json(), group=event.instance)
        return web.json_response({"queued": len(parsed)}, status=202)

    app = web.Application(client_max_size=EVENT_BODY_LIMIT)
    app.router.add_post("/events", events)
    return app
