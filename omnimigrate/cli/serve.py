"""`omnimigrate serve`: a long-running worker for events (backups, replication, restores)."""

from __future__ import annotations

import asyncio
import signal

import click
from aiohttp import web

from omnimigrate.cli import AppContext, cli
from omnimigrate.cli.stores import cipher_for, store_for
from omnimigrate.config import ConfigError
from omnimigrate.service.http import service_app
from omnimigrate.service.metrics import Metrics
from omnimigrate.service.queue import MemoryQueue, Queue, SqsQueue
from omnimigrate.service.sinks import Publisher, Sink, SnsSink, SqsSink, WebhookSink
from omnimigrate.service.worker import Worker


def build_sinks(specs: list[str]) -> list[Sink]:
    sinks: list[Sink] = []
    for spec in specs:
        kind, _, where = spec.partition(":")
        if kind == "webhook":
            sinks.append(WebhookSink(where))
        elif kind in ("sqs", "sns"):
            import boto3

            client = boto3.client(kind)
            sinks.append(SqsSink(client, where) if kind == "sqs" else SnsSink(client, where))
        else:
            raise ConfigError(
                f"event sink {spec!r}: write sqs:QUEUE_URL, sns:TOPIC_ARN or webhook:URL"
            )
    return sinks


def build_queue(url: str) -> Queue:
    if url == "memory":
        return MemoryQueue()
    if url.startswith("https://") or url.startswith("http://"):
        import boto3

        return SqsQueue(boto3.client("sqs"), url)
    raise ConfigError(f"queue {url!r}: use memory or an SQS queue URL")


@cli.command()
@click.option("--queue", "queue_url", default=None, help="memory, or an SQS queue URL.")
@click.option("--store", default=None, help="Folder or s3://bucket/prefix.")
@click.option("--port", type=int, default=None, help="Port of /metrics, /healthz, /readyz.")
@click.option("--workers", type=click.IntRange(1, 32), default=None, help="Jobs at once.")
@click.pass_obj
def serve(
    app: AppContext, queue_url: str | None, store: str | None, port: int | None, workers: int | None
) -> None:
    """Consume events and run backups, replication and restores until SIGTERM."""
    s = app.settings
    svc = s.service
    target = store_for(app, store)
    queue = build_queue(queue_url or svc.queue)
    metrics = Metrics()
    publisher = Publisher(build_sinks(svc.sinks))
    cipher = cipher_for(app, target, create=True)
    pool = [
        Worker(s, target, queue, publisher, metrics, cipher=cipher)
        for _ in range(workers or svc.workers)
    ]

    async def main() -> None:
        runner = web.AppRunner(service_app(metrics, queue, lambda: any(w.ready for w in pool)))
        await runner.setup()
        await web.TCPSite(
            runner, svc.metrics_host, port if port is not None else svc.metrics_port
        ).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await asyncio.gather(*(w.run(stop) for w in pool))
        finally:
            await runner.cleanup()

    asyncio.run(main())
