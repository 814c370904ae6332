"""An exclusive lease per (store, instance), so two backups of one instance never interleave.

The lock is an object created only if absent (S3 `If-None-Match: *`, a hard link locally),
naming its holder and when its lease expires. The holder renews the lease while it runs; a
lock whose lease has expired (its holder was killed) is taken over, with a log line, and so
is one whose holder ran on this host and is no longer running (a re-run after a kill need
not wait out the lease). A holder that cannot renew (its lock was removed, taken over, or the
store failed) stops its work, as restic does: what it wrote stays for a re-run to resume.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from omnimigrate.hints import command_line
from omnimigrate.snapshot.store import KeyNotFound, Store

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


class Locked(Exception):
    """Another run holds the lock; the message names it and when its lease ends."""


class LockLost(Locked):
    """The holder could not renew its lock mid-run; the message names the lock and what to do."""


class LockInfo(BaseModel):
    holder: str
    host: str
    pid: int
    acquired_at: float
    expires_at: float

    def describe(self) -> str:
        until = datetime.fromtimestamp(self.expires_at, UTC).isoformat(timespec="seconds")
        return f"{self.holder} (host {self.host}, pid {self.pid}; lease until {until})"


def lock_key(instance: str) -> str:
    return f"locks/{instance}.json"


class InstanceLock:
    def __init__(
        self,
        store: Store,
        instance: str,
        *,
        ttl: float = 300.0,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,  # waits between renewals: a test's knob
    ) -> None:
        self.store = store
        self.instance = instance
        self.ttl = ttl
        self.clock = clock
        self.sleep = sleep
        # the run's own id (its log lines carry it), so the lock names the run people see
        run = structlog.contextvars.get_contextvars().get("run")
        self.me = str(run) if run else f"run-{uuid.uuid4().hex[:12]}"
        self._log = structlog.get_logger("omnimigrate.lock").bind(instance=instance)

    def _info(self) -> LockInfo:
        now = self.clock()
        return LockInfo(
            holder=self.me,
            host=socket.gethostname(),
            pid=os.getpid(),
            acquired_at=now,
            expires_at=now + self.ttl,
        )

    def current(self) -> LockInfo | None:
        try:
            return LockInfo.model_validate_json(self.store.get(lock_key(self.instance)))
        except KeyNotFound:
            return None
        except ValidationError:  # unreadable: treat as expired
            return LockInfo(holder="unknown", host="?", pid=0, acquired_at=0, expires_at=0)

    def acquire(self) -> bool:
        """Take the lock; True when it was taken over from a holder that is gone."""
        key = lock_key(self.instance)
        if self.store.create(key, self._info().model_dump_json().encode()):
            return False
        held = self.current()
        if held is not None and held.expires_at > self.clock() and not _dead_here(held):
            raise Locked(
                f"{self.instance} in {self.store.url} is locked by {held.describe()}; wait for "
                "it to finish, or if that run is gone, "
                f"`{command_line('snapshots', 'unlock', instance=self.instance, store=self.store.url)}` "
                "(or --force-unlock)"
            )
        self._log.warning("lock.takeover", stale=held.describe() if held else "vanished")
        self.store.delete(key)
        if not self.store.create(key, self._info().model_dump_json().encode()):
            raise Locked(
                f"{self.instance} in {self.store.url}: another run took the stale lock first"
            )
        return True

    def renew(self) -> None:
        """Extend the lease; LockLost when the lock is no longer this run's."""
        held = self.current()
        if held is None or held.holder != self.me:
            raise self.lost(f"now held by {held.describe()}" if held else "it was removed")
        self.store.put(lock_key(self.instance), self._info().model_dump_json().encode())

    def lost(self, why: str) -> LockLost:
        return LockLost(
            f"lost the lock {lock_key(self.instance)} in {self.store.url} mid-run ({why}): this "
            "run stopped there and committed nothing more; once no other run holds that lock, run "
            "the same command again (it resumes)"
        )

    def release(self) -> None:
        held = self.current()
        if held is not None and held.holder == self.me:
            self.store.delete(lock_key(self.instance))

    def force_unlock(self) -> LockInfo | None:
        held = self.current()
        self.store.delete(lock_key(self.instance))
        if held:
            self._log.warning("lock.forced", removed=held.describe())
        return held

    async def run_held(self, work: Callable[[bool], Coroutine[object, None, T]]) -> T:
        """Run `work` holding the lock, renewing the lease at a third of its length; `work` is
        given whether the lock was taken over from a holder that is gone. A failed renewal
        cancels `work` and raises LockLost."""
        took_over = await asyncio.to_thread(self.acquire)
        body: asyncio.Task[T] = asyncio.create_task(work(took_over))
        beat = asyncio.create_task(self._heartbeat())
        try:
            await asyncio.wait([body, beat], return_when=asyncio.FIRST_COMPLETED)
            if not body.done():  # the heartbeat only ends by failing
                body.cancel()
                await asyncio.gather(body, return_exceptions=True)
                beat.result()
            return body.result()
        finally:
            for task in (body, beat):
                task.cancel()
            await asyncio.gather(body, beat, return_exceptions=True)
            # a lost lock is not this run's to delete (a lease the store failed to renew runs
            # out, and on this host the next run takes it over at once)
            if beat.cancelled():
                await asyncio.to_thread(self.release)

    async def _heartbeat(self) -> None:
        while True:
            await self.sleep(self.ttl / 3)
            try:
                await asyncio.to_thread(self.renew)
            except LockLost:
                raise
            except Exception as exc:  # any failure of the store: the lease cannot be trusted
                raise self.lost(f"the store failed: {exc}") from exc


def _dead_here(held: LockInfo) -> bool:
    """The holder ran on this machine and its process is gone."""
    if held.host != socket.gethostname() or held.pid <= 0 or held.pid == os.getpid():
        return False
    try:
        os.kill(held.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
