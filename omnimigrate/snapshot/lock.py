"""An exclusive lease per (store, instance), so two backups of one instance never interleave.

The lock is an object created only if absent (S3 `If-None-Match: *`, a hard link locally),
naming its holder and when its lease expires. The holder renews the lease while it runs; a
lock whose lease has expired (its holder was killed) is taken over, with a log line, and so
is one whose holder ran on this host and is no longer running (a re-run after a kill need
not wait out the lease).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import structlog
from pydantic import BaseModel, ValidationError

from omnimigrate.snapshot.store import KeyNotFound, Store

Clock = Callable[[], float]


class Locked(Exception):
    """Another run holds the lock; the message names it and when its lease ends."""


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
        self, store: Store, instance: str, *, ttl: float = 300.0, clock: Clock = time.time
    ) -> None:
        self.store = store
        self.instance = instance
        self.ttl = ttl
        self.clock = clock
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
                "it to finish, or if that run is gone, `omnimigrate snapshots unlock --instance "
                f"{shlex.quote(self.instance)} --store {shlex.quote(self.store.url)}` (or --force-unlock)"
            )
        self._log.warning("lock.takeover", stale=held.describe() if held else "vanished")
        self.store.delete(key)
        if not self.store.create(key, self._info().model_dump_json().encode()):
            raise Locked(
                f"{self.instance} in {self.store.url}: another run took the stale lock first"
            )
        return True

    def renew(self) -> None:
        held = self.current()
        if held is None or held.holder != self.me:
            raise Locked(
                f"lost the lock on {self.instance}: {held.describe() if held else 'it was removed'}"
            )
        self.store.put(lock_key(self.instance), self._info().model_dump_json().encode())

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

    @asynccontextmanager
    async def held(self) -> AsyncIterator[bool]:
        """Hold the lock for a block, renewing the lease at a third of its length; yields
        whether it was taken over from a holder that is gone."""
        took_over = await asyncio.to_thread(self.acquire)

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(self.ttl / 3)
                await asyncio.to_thread(self.renew)

        task = asyncio.create_task(heartbeat())
        try:
            yield took_over
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.to_thread(self.release)


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
