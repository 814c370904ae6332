"""An in-process job queue: priorities, bounded concurrency per runner, per-job retries, and a
dead-letter list. A runner is one way of doing work (one API key); every runner pulls from the
same queue, so jobs spread over keys by who is free."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import structlog

from omnimigrate.engine.jobs import Job, JobResult
from omnimigrate.http.retry import permanent

Runner = Callable[[Job], Awaitable[JobResult]]
Sleep = Callable[[float], Awaitable[None]]


class ListingFailed(Exception):
    """A listing job failed for good: the inventory would be incomplete, so the run stops."""

    def __init__(self, job: Job, error: BaseException) -> None:
        super().__init__(f"{job.key} failed: {error}")
        self.job = job
        self.error = error


@dataclass
class DeadLetter:
    job: Job
    error: str
    attempts: int


@dataclass
class QueueStats:
    done: int = 0
    retried: int = 0
    dead: list[DeadLetter] = field(default_factory=list)


class JobQueue:
    def __init__(
        self,
        *,
        on_result: Callable[[Job, JobResult], None],
        on_progress: Callable[[int, int | None], None] = lambda done, total: None,
        max_attempts: int = 3,
        retry_delay: float = 2.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._on_result = on_result
        self._on_progress = on_progress
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._sleep = sleep
        self._queue: asyncio.PriorityQueue[tuple[int, int, Job]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._seen: set[str] = set()
        self._total = 0
        self._listings = 0  # queued and not done: until none is left, the total is not known
        self.stats = QueueStats()
        self._log = structlog.get_logger("omnimigrate.jobs")

    def add(self, jobs: Iterable[Job], skip: set[str] | frozenset[str] = frozenset()) -> None:
        """Queue jobs not seen before and not in `skip` (already done by an earlier run)."""
        for job in jobs:
            if job.key in self._seen or job.key in skip:
                continue
            self._seen.add(job.key)
            self._total += 1
            self._listings += job.is_listing
            self._queue.put_nowait((job.priority, next(self._order), job))

    async def run(self, runners: list[Runner], concurrency: int) -> QueueStats:
        """Work until the queue is drained. Raises ListingFailed if a listing cannot be done."""
        workers = [
            asyncio.create_task(self._worker(runner))
            for runner in runners
            for _ in range(concurrency)
        ]
        joined = asyncio.create_task(self._queue.join())
        try:
            done, _ = await asyncio.wait([joined, *workers], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not joined:
                    task.result()  # a worker only ends early by raising
        finally:
            for task in [joined, *workers]:
                task.cancel()
            await asyncio.gather(joined, *workers, return_exceptions=True)
        return self.stats

    async def _worker(self, runner: Runner) -> None:
        while True:
            _, _, job = await self._queue.get()
            try:
                result = await self._attempt(runner, job)
                if result is not None:
                    self._on_result(job, result)
                    self.add(result.children)
                self.stats.done += 1
                self._listings -= job.is_listing
                self._on_progress(self.stats.done, None if self._listings else self._total)
            finally:
                self._queue.task_done()

    async def _attempt(self, runner: Runner, job: Job) -> JobResult | None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                return await runner(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if job.is_listing and (permanent(exc) or attempt == self._max_attempts):
                    raise ListingFailed(job, exc) from exc
                if permanent(exc) or attempt == self._max_attempts:
                    self._log.warning(
                        "job.dead_letter", job=job.key, error=str(exc), attempts=attempt
                    )
                    self.stats.dead.append(DeadLetter(job, str(exc), attempt))
                    return None
                self.stats.retried += 1
                self._log.info("job.retry", job=job.key, error=str(exc), attempt=attempt)
                await self._sleep(self._retry_delay * attempt)
        return None
