"""The `serve` worker: takes events off a queue and runs the matching job.

`backup.requested` runs a backup; `snapshot.completed` runs the replication rules that name
its instance (a restore into each standby); `restore.requested` runs a restore;
`drill.requested` runs a DR drill (a restore, verified and content-checked, whose evidence
lands beside the snapshot) and publishes its figures as `drill.completed`. Each event is
first checked against the config (service/policy.py): a refused one is reported and dropped,
and touches no instance. A job holds
its instance's lock in the store, so however many workers share the queue, one instance's
rate budget is spent by one worker at a time; a job whose lock is held goes back on the queue
for later. Checkpoints and the restore ledger live in the store, so a job another worker
abandoned (killed: its message reappears after the visibility timeout) resumes where it was.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import structlog
from pydantic import SecretStr

from omnimigrate.config import InstanceConfig, Settings, resolve_tokens
from omnimigrate.engine.apply import ApplyResult
from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.engine.drill import Drill, DrillReport, is_acknowledged, open_drilled, save_drill
from omnimigrate.engine.drill_html import render_drill
from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import OpenSnapshot, apply_plan, open_snapshot, plan_restore
from omnimigrate.http.sessions import SessionFactory, open_session
from omnimigrate.platforms import platform_named
from omnimigrate.service.event_queue import EventQueue, Message
from omnimigrate.service.events import (
    BackupRequested,
    BadEvent,
    DrillCompleted,
    DrillRequested,
    RestoreCompleted,
    RestoreRequested,
    SnapshotCompleted,
    dump_event,
    run_failed,
)
from omnimigrate.service.metrics import Metrics
from omnimigrate.service.policy import EventGate, Refused
from omnimigrate.service.sinks import Publisher
from omnimigrate.snapshot.crypto import Cipher
from omnimigrate.snapshot.lock import InstanceLock, Locked
from omnimigrate.snapshot.store import Store

T = TypeVar("T")

TokenSource = Callable[[InstanceConfig], list[SecretStr]]


class Worker:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        queue: EventQueue,
        publisher: Publisher,
        metrics: Metrics,
        *,
        cipher: Cipher | None = None,
        tokens: TokenSource = lambda inst: resolve_tokens(inst.token_env),
        sessions: SessionFactory = open_session,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.publisher = publisher
        self.metrics = metrics
        self.cipher = cipher
        self.tokens = tokens
        self.sessions = sessions
        self.gate = EventGate(settings, store)
        self.ready = False
        self._log = structlog.get_logger("omnimigrate.serve")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            msg = await self.queue.receive()
            self.ready = True  # the queue answered
            if msg is not None:
                await self.handle(msg)

    async def handle(self, msg: Message) -> None:
        try:
            events = self.gate.parse(msg.body)
        except BadEvent as exc:
            self._log.error("serve.bad_message", error=str(exc))
            await self.queue.ack(msg)  # it can never succeed
            return
        for event in events:
            try:
                self.gate.check(event)
            except Refused as exc:  # no retry can make it allowed: report it and drop it
                self._log.error("serve.refused", job=event.type, error=str(exc))
                self.metrics.jobs.labels("refused").inc()
                await self.publisher.publish(run_failed(event, f"refused: {exc}"))
                continue
            outcome = await self._run(msg, event)
            if outcome != "done":
                delay = self.settings.service.retry_seconds * (
                    msg.receives if outcome == "failed" else 1
                )
                await self.queue.retry_later(msg, delay)
                return
        await self.queue.ack(msg)

    async def _run(self, msg: Message, event: Any) -> str:
        structlog.contextvars.bind_contextvars(
            run=event.run_id, job=event.type, instance=event.instance
        )
        self.metrics.jobs.labels("running").inc()
        heartbeat = asyncio.create_task(self._keep_invisible(msg))
        try:
            await self._dispatch(event)
            self.metrics.jobs.labels("succeeded").inc()
            return "done"
        except Locked as exc:
            self._log.info("serve.locked", error=str(exc))
            self.metrics.jobs.labels("waiting").inc()
            return "locked"
        except Exception as exc:  # reported, then retried, then dead-lettered by the queue
            self._log.error("serve.job_failed", error=str(exc), receives=msg.receives)
            self.metrics.jobs.labels("failed").inc()
            await self.publisher.publish(run_failed(event, str(exc)))
            return "failed"
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            self.metrics.jobs.labels("running").dec()
            structlog.contextvars.unbind_contextvars("run", "job", "instance")

    async def _keep_invisible(self, msg: Message) -> None:
        every = self.settings.service.visibility_timeout
        while True:
            await asyncio.sleep(every / 3)
            await self.queue.extend(msg, every)

    async def _dispatch(self, event: Any) -> None:
        handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            BackupRequested: self.backup,
            SnapshotCompleted: self.replicate,
            RestoreRequested: self.restore,
            DrillRequested: self.drill,
        }
        handler = handlers.get(type(event))
        if handler is None:
            self._log.info("serve.ignored", event=event.type)
            return
        await handler(event)

    def _options(self, event: RestoreRequested | DrillRequested) -> RestoreOptions:
        """The event's options as the target's platform takes them (the policy checked them)."""
        platform = platform_named(self.settings.instances[event.target].platform)
        return platform.options_type.model_validate(event.options)

    def _rate(self, name: str) -> int:
        return self.settings.rate_limit_for(self.settings.instances[name])

    def _pool(self, name: str) -> AbstractAsyncContextManager[list[Any]]:
        inst, s = self.settings.instances[name], self.settings
        return inst.client_pool(
            self.tokens(inst), rate_limit=self._rate(name), period=s.rate_period, burst=s.rate_burst,
            retry=s.retry_policy(), timeout=s.timeout, observer=self.metrics.observer(name),
            sessions=self.sessions,
        )  # fmt: skip

    async def _writing(self, target: str, work: Callable[[], Coroutine[object, None, T]]) -> T:
        """`work` under `target`'s restore lock: one restore or drill writes into it at a
        time, and a lost lock cancels it (`InstanceLock.run_held`)."""
        lock = InstanceLock(self.store, f"restore.{target}", ttl=self.settings.lock_ttl)

        async def held(took_over: bool) -> T:
            if took_over:  # the dead holder's last requests still count in the target's window
                await asyncio.sleep(self.settings.rate_period)
            return await work()

        return await lock.run_held(held)

    async def backup(self, event: BackupRequested) -> None:
        s = self.settings
        options = BackupOptions(
            full=event.full, instance=event.instance, concurrency=s.concurrency,
            retry_delay=s.retry_base_delay * 2, lock_ttl=s.lock_ttl, takeover_quiet=s.rate_period,
        )  # fmt: skip
        start = time.monotonic()
        async with self._pool(event.instance) as clients:
            outcome = await run_backup(
                clients, self.store, options, cache_dir=s.cache_dir, cipher=self.cipher
            )
        self.metrics.backup(event.instance, outcome, time.monotonic() - start)
        done = SnapshotCompleted(instance=event.instance, snapshot_id=outcome.manifest.snapshot_id,
                                 run_id=event.run_id, status=outcome.manifest.status)  # fmt: skip
        await self.publisher.publish(done)
        if any(rule.source == event.instance for rule in s.service.replication):
            await self.queue.send(dump_event(done), group=event.instance)

    async def replicate(self, event: SnapshotCompleted) -> None:
        for rule in self.settings.service.replication:
            if rule.source == event.instance:
                await self.restore(RestoreRequested(instance=event.instance, snapshot_id=event.snapshot_id,
                                                    run_id=event.run_id, target=rule.target,
                                                    options=rule.options))  # fmt: skip

    async def restore(self, event: RestoreRequested) -> None:
        options = self._options(event)

        async def restore_it() -> tuple[OpenSnapshot, ApplyResult]:
            snap = await asyncio.to_thread(
                open_snapshot,
                self.store,
                event.snapshot_id or "latest",
                event.instance,
                self.cipher,
            )
            async with self._pool(event.target) as clients:
                plan = await plan_restore(snap, clients, options)
                return snap, await apply_plan(
                    snap, plan, clients, concurrency=self.settings.concurrency
                )

        snap, result = await self._writing(event.target, restore_it)
        self.metrics.restore(event.target, result)
        await self.publisher.publish(
            RestoreCompleted(
                instance=event.instance,
                snapshot_id=snap.source.snapshot_id,
                run_id=event.run_id,
                target=event.target,
                complete=result.complete,
            )
        )

    async def drill(self, event: DrillRequested) -> None:
        s = self.settings
        allowed = s.service.restore_target(event.target)
        accepted = allowed.accept_blocked if allowed else []

        async def drill_it() -> DrillReport:
            snap, manifest = await asyncio.to_thread(
                open_drilled, self.store, event.snapshot_id or "latest", event.instance, self.cipher
            )
            drill = Drill(
                snap, manifest, self._options(event), rate=self._rate(event.target),
                period=s.rate_period, concurrency=s.concurrency,
                acknowledged=functools.partial(is_acknowledged, patterns=accepted),
            )  # fmt: skip
            async with self._pool(event.target) as clients:
                report, _ = await drill.run(clients)
            return report

        report = await self._writing(event.target, drill_it)
        folder = await asyncio.to_thread(save_drill, self.store, report, render_drill(report))
        self.metrics.drill(event.target, report)
        await self.publisher.publish(drill_completed(event, report, f"{self.store.url}/{folder}"))


def drill_completed(event: DrillRequested, report: DrillReport, folder: str) -> DrillCompleted:
    """The figures of drill.json an alert or a dashboard reads, and where the rest is."""
    return DrillCompleted(
        instance=event.instance, snapshot_id=report.snapshot_id, run_id=event.run_id,
        target=event.target, drill_id=report.drill_id, passed=report.ok, evidence=folder,
        fidelity={kind: t.percent for kind, t in report.fidelity.items()},
        fidelity_percent=report.fidelity_percent, rpo_seconds=report.rpo_seconds,
        rto_seconds=report.rto_seconds, rto_estimate_seconds=report.restore.estimate_seconds,
        new_content_issues=len(report.content.new), blocked=len(report.blocked),
        blocked_unacknowledged=sum(not b.acknowledged for b in report.blocked),
    )  # fmt: skip
