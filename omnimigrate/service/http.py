"""The worker's HTTP side: /metrics for Prometheus, /healthz and /readyz for Kubernetes, and
POST /events to hand an event to the worker (for the in-process queue)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from omnimigrate.service.events import BadEvent, parse_event
from omnimigrate.service.metrics import Metrics
from omnimigrate.service.queue import Queue


def service_app(metrics: Metrics, queue: Queue, ready: Callable[[], bool]) -> web.Application:
    async def metrics_view(request: web.Request) -> web.Response:
        body = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        ok = ready()
        return web.json_response({"ready": ok}, status=200 if ok else 503)

    async def events(request: web.Request) -> web.Response:
        body = await request.text()
        try:
            parsed = parse_event(body)
        except BadEvent as exc:
            return web.json_response({"detail": str(exc)}, status=400)
        for event in parsed:
            await queue.send(event.model_dump_json(), group=event.instance)
        return web.json_response({"queued": len(parsed)}, status=202)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_post("/events", events)
    return app
