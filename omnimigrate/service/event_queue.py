"""Queues `serve` consumes: in-process (one machine) and Amazon SQS (a fleet of workers).

A message is acked only when its job is done. While a job runs its visibility is extended,
so SQS does not hand it to another worker; if the worker dies, the message reappears after
the visibility timeout and another worker resumes the job from its checkpoints. A message
that keeps failing goes to the queue's dead-letter queue (the redrive policy's
maxReceiveCount) instead of being retried forever.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class Message:
    body: str
    handle: Any = None  # the backend's receipt
    receives: int = 1


class EventQueue(Protocol):
    async def send(self, body: str, group: str | None = None) -> None: ...
    async def receive(self) -> Message | None: ...
    async def ack(self, msg: Message) -> None: ...
    async def retry_later(self, msg: Message, seconds: float) -> None: ...
    async def extend(self, msg: Message, seconds: float) -> None: ...


class MemoryQueue:
    def __init__(self, max_receives: int = 5) -> None:
        self._q: asyncio.Queue[Message] = asyncio.Queue()
        self.max_receives = max_receives
        self.dead: list[Message] = []

    async def send(self, body: str, group: str | None = None) -> None:
        await self._q.put(Message(body))

    async def receive(self) -> Message | None:
        try:
            return await asyncio.wait_for(self._q.get(), timeout=1.0)
        except TimeoutError:
            return None

    async def ack(self, msg: Message) -> None:
        """Nothing to do: a received message is out of the queue."""

    async def retry_later(self, msg: Message, seconds: float) -> None:
        if msg.receives >= self.max_receives:
            self.dead.append(msg)
            return
        await asyncio.sleep(seconds)
        await self._q.put(Message(msg.body, receives=msg.receives + 1))

    async def extend(self, msg: Message, seconds: float) -> None:
        """In-process messages never time out."""


class SqsQueue:
    def __init__(self, client: Any, url: str, *, wait_seconds: int = 10) -> None:
        self.client, self.url, self.wait_seconds = client, url, wait_seconds

    async def send(self, body: str, group: str | None = None) -> None:
        args: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": body}
        if self.url.endswith(".fifo"):
            args |= {
                "MessageGroupId": group or "omnimigrate",
                # the same in every process (Python's hash() is salted per process)
                "MessageDeduplicationId": hashlib.sha256(body.encode()).hexdigest(),
            }
        await asyncio.to_thread(self.client.send_message, **args)

    async def receive(self) -> Message | None:
        reply = await asyncio.to_thread(
            self.client.receive_message,
            QueueUrl=self.url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=self.wait_seconds,  # long polling
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        for m in reply.get("Messages", []):
            count = int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            return Message(m["Body"], m["ReceiptHandle"], count)
        return None

    async def ack(self, msg: Message) -> None:
        await asyncio.to_thread(
            self.client.delete_message, QueueUrl=self.url, ReceiptHandle=msg.handle
        )

    async def retry_later(self, msg: Message, seconds: float) -> None:
        await self.extend(msg, seconds)

    async def extend(self, msg: Message, seconds: float) -> None:
        await asyncio.to_thread(
            self.client.change_message_visibility,
            QueueUrl=self.url,
            ReceiptHandle=msg.handle,
            VisibilityTimeout=int(seconds),
        )
