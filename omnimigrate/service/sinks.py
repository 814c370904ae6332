"""Where a run's events go: the log (always), an SQS queue, an SNS topic, a webhook."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import structlog

from omnimigrate.http.sessions import SessionFactory
from omnimigrate.service.events import DrillCompleted, dump_event


class Sink(Protocol):
    async def publish(self, event: Any) -> None: ...


class LogSink:
    def __init__(self) -> None:
        self._log = structlog.get_logger("omnimigrate.events")

    async def publish(self, event: Any) -> None:
        self._log.info("event", **event.model_dump(mode="json"))


class SqsSink:
    def __init__(self, client: Any, queue_url: str) -> None:
        self.client, self.queue_url = client, queue_url

    async def publish(self, event: Any) -> None:
        args: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": dump_event(event)}
        if self.queue_url.endswith(".fifo"):  # one instance's events stay in order
            args |= {
                "MessageGroupId": event.instance,
                "MessageDeduplicationId": event.run_id + event.type,
            }
        await asyncio.to_thread(self.client.send_message, **args)


class SnsSink:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client, self.topic_arn = client, topic_arn

    async def publish(self, event: Any) -> None:
        await asyncio.to_thread(
            self.client.publish, TopicArn=self.topic_arn, Message=dump_event(event)
        )


class WebhookSink:
    """Slack-compatible: a `text` line for people, the event itself for machines."""

    def __init__(self, url: str, sessions: SessionFactory) -> None:
        self.url, self._sessions = url, sessions

    async def publish(self, event: Any) -> None:
        text = f"omnimigrate {event.type}: {event.instance}" + (
            f" snapshot {event.snapshot_id}" if event.snapshot_id else ""
        )
        if getattr(event, "error", None):
            text += f": {event.error}"
        if isinstance(event, DrillCompleted):  # the verdict a person reads in the channel
            text += (
                f" into {event.target}: {'passed' if event.passed else 'needs attention'}, "
                f"fidelity {event.fidelity_percent:.2f} %, "
                f"{event.new_content_issues} new content issues"
            )
        body = {"text": text, "event": event.model_dump(mode="json")}
        async with self._sessions() as session, session.post(self.url, json=body) as resp:
            resp.raise_for_status()


class Publisher:
    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = [LogSink(), *sinks]
        self._log = structlog.get_logger("omnimigrate.events")

    async def publish(self, event: Any) -> None:
        for sink in self.sinks:
            try:
                await sink.publish(event)
            except Exception as exc:  # a sink's outage must not fail the run it reports
                self._log.warning("event.sink_failed", sink=type(sink).__name__, error=str(exc))
