"""`omnimigrate serve`: a long-running worker for events (backups, replication, restores,
drills)."""

from __future__ import annotations

import asyncio
import os
import signal

import click
import structlog
from aiohttp import web
from pydantic import SecretStr

from omnimigrate.cli.app import AppContext, cli
from omnimigrate.cli.options import (
    store_option,
)
from omnimigrate.cli.stores import cipher_for, store_for
from omnimigrate.config import ServiceConfig
from omnimigrate.errors import ConfigError
from omnimigrate.http.sessions import SessionFactory
from omnimigrate.service.event_queue import EventQueue, MemoryQueue, SqsQueue
from omnimigrate.service.http import events_app, service_app
from omnimigrate.service.metrics import Metrics
from omnimigrate.service.sinks import Publisher, Sink, SnsSink, SqsSink, WebhookSink
from omnimigrate.service.worker import Worker


def build_sinks(specs: list[str], sessions: SessionFactory) -> list[Sink]:
    sinks: list[Sink] = []
    for spec in specs:
        kind, _, where = spec.partition(":")
        if kind == "webhook":
            sinks.append(WebhookSink(where, sessions))
        elif kind in ("sqs", "sns"):
            import boto3

            client = boto3.client(kind)
            sinks.append(SqsSink(client, where) if kind == "sqs" else SnsSink(client, where))
        else:
            raise ConfigError(
                f"event sink {spec!r}: write sqs:QUEUE_URL, sns:TOPIC_ARN or webhook:URL"
            )
    return sinks


def build_queue(url: str) -> EventQueue:
    if url == "memory":
        return MemoryQueue()
    if url.startswith("https://") or url.startswith("http://"):
        import boto3

        return SqsQueue(boto3.client("sqs"), url)
    raise ConfigError(f"queue {url!r}: use memory or an SQS queue URL")


@cli.command()
@click.option(
    "--queue",
    "queue_url",
    default=None,
    help="memory, or an SQS queue URL.  [default: service.queue, memory]",
)
@store_option
@click.option(
    "--host",
    default=None,
    help="Address to listen on.  [default: service.host, 127.0.0.1; 0.0.0.0 in the image]",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of /metrics, /healthz, /readyz.  [default: service.metrics_port, 9090]",
)
@click.option(
    "--events-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of POST /events, served only when the events token is set.  [default: service.events_port, 9091]",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=None,
    help="Jobs at once.  [default: service.workers, 1]",
)
@click.pass_obj
def serve(
    app: AppContext, queue_url: str | None, store: str | None, host: str | None,
    port: int | None, events_port: int | None, workers: int | None,
) -> None:  # fmt: skip
    """Consume events and run backups, replication, restores and drills until SIGTERM.

    POST /events is off unless the variable named by service.events_token_env
    (OMNIMIGRATE_EVENTS_TOKEN) holds a token; callers then send it as a bearer token, and
    every event, however it arrives, is checked against the config before it runs.
    """
    s = app.settings
    svc = s.service
    target = store_for(app, store, create=True)
    queue = build_queue(queue_url or svc.queue)
    metrics = Metrics()
    publisher = Publisher(build_sinks(svc.sinks, app.sessions))
    cipher = cipher_for(app, target, create=True)
    pool = [
        Worker(s, target, queue, publisher, metrics, cipher=cipher, sessions=app.sessions)
        for _ in range(workers or svc.workers)
    ]
    token = events_token(app)
    listen = host or svc.host
    ready = lambda: any(w.ready for w in pool)  # noqa: E731
    sites = [(port if port is not None else svc.metrics_port,
              service_app(metrics, ready, events_off=_events_off(svc, token)))]  # fmt: skip
    if token is not None:
        sites.append((events_port if events_port is not None else svc.events_port,
                      events_app(pool[0].gate, queue, publisher, token)))  # fmt: skip
    log = structlog.get_logger("omnimigrate.serve")

    async def main() -> None:
        runners = [web.AppRunner(site_app, access_log=None) for _, site_app in sites]
        try:
            for runner, (site_port, _) in zip(runners, sites, strict=True):
                await runner.setup()
                await web.TCPSite(runner, listen, site_port).start()
        except OSError as exc:
            raise ConfigError(f"cannot listen on {listen}: {exc.strerror}; choose another "
                              f"--host, --port or --events-port") from None  # fmt: skip
        log.info("serve.listening", host=listen, ports=[p for p, _ in sites], events=bool(token))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await asyncio.gather(*(w.run(stop) for w in pool))
        finally:
            for runner in runners:
                await runner.cleanup()

    asyncio.run(main())


def events_token(app: AppContext) -> SecretStr | None:
    """The bearer token of POST /events, from the variable the config names (never logged)."""
    raw = os.environ.get(app.settings.service.events_token_env)
    if not raw:
        return None
    app.redactor.add(raw)
    return SecretStr(raw)


def _events_off(svc: ServiceConfig, token: SecretStr | None) -> str:
    if token is None:
        return (
            f"POST /events is off: set a token in ${svc.events_token_env} to serve it on "
            f"the events port (service.events_port)"
        )
    return "POST /events is served on the events port (service.events_port), not here"
