"""Backup checkpoints: which jobs of a run are finished, and what they produced.

A run is open while `runs/<instance>/open.json` exists in the store; running the same command
again finds it and resumes that snapshot. The checkpoints are SQLite in the local cache for a
local store (one transaction per finished job), or append-only segments in the store's own
space for S3 (so a pod with no persistent disk resumes too). (Restore's record of what it
wrote is another thing: `restore_ledger.py`.)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from omnimigrate.engine.jobs import JobResult
from omnimigrate.snapshot.store import KeyNotFound, LocalStore, Store


class RunInfo(BaseModel):
    snapshot_id: str
    started_at: datetime
    options: dict[str, object] = Field(default_factory=dict)


def run_marker_key(instance: str) -> str:
    return f"runs/{instance}/open.json"


def read_open_run(store: Store, instance: str) -> RunInfo | None:
    try:
        return RunInfo.model_validate_json(store.get(run_marker_key(instance)))
    except KeyNotFound:
        return None


def mark_run_open(store: Store, instance: str, run: RunInfo) -> None:
    store.put(run_marker_key(instance), run.model_dump_json().encode())


def mark_run_closed(store: Store, instance: str) -> None:
    store.delete(run_marker_key(instance))


class Checkpoints(Protocol):
    def results(self) -> Iterator[tuple[str, JobResult]]: ...
    def record(self, job_key: str, result: JobResult) -> None: ...
    def flush(self) -> None: ...
    def discard(self) -> None: ...


class SqliteCheckpoints:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # survives a killed process, not power loss
        self._db.execute("CREATE TABLE IF NOT EXISTS done (key TEXT PRIMARY KEY, result TEXT)")

    def results(self) -> Iterator[tuple[str, JobResult]]:
        for key, raw in self._db.execute("SELECT key, result FROM done ORDER BY rowid"):
            yield key, JobResult.model_validate_json(raw)

    def record(self, job_key: str, result: JobResult) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO done VALUES (?, ?)", (job_key, result.model_dump_json())
        )

    def flush(self) -> None:
        """Every record is already its own transaction."""

    def discard(self) -> None:
        self._db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class StoreCheckpoints:
    """Finished jobs buffered and written as numbered, compressed JSON-lines segments."""

    def __init__(
        self,
        store: Store,
        prefix: str,
        *,
        flush_every: int = 200,
        flush_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self._flush_every = flush_every
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._buffer: list[str] = []
        self._last_flush = clock()
        self._segments = sorted(store.list(prefix + "/"))
        self._next = len(self._segments)

    def results(self) -> Iterator[tuple[str, JobResult]]:
        for key in self._segments:
            for line in zlib.decompress(self.store.get(key)).decode().splitlines():
                record = json.loads(line)
                yield record["key"], JobResult.model_validate(record["result"])

    def record(self, job_key: str, result: JobResult) -> None:
        self._buffer.append(json.dumps({"key": job_key, "result": result.model_dump(mode="json")}))
        if (
            len(self._buffer) >= self._flush_every
            or self._clock() - self._last_flush >= self._flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            key = f"{self.prefix}/{self._next:08d}.jsonl.z"
            self.store.put(key, zlib.compress("\n".join(self._buffer).encode()))
            self._segments.append(key)
            self._next += 1
            self._buffer = []
        self._last_flush = self._clock()

    def discard(self) -> None:
        for key in self._segments:
            self.store.delete(key)
        self._segments = []


def open_checkpoints(store: Store, instance: str, snapshot_id: str, cache_dir: Path) -> Checkpoints:
    if isinstance(store, LocalStore):
        where = hashlib.sha256(store.url.encode()).hexdigest()[:12]
        return SqliteCheckpoints(cache_dir / "ledgers" / where / instance / f"{snapshot_id}.sqlite")
    return StoreCheckpoints(store, f"runs/{instance}/{snapshot_id}/ledger")
