"""The events a run publishes and `serve` consumes. Each names its instance, snapshot and run.

Amazon S3 event notifications (ObjectCreated on a snapshot manifest) are accepted too, as
`snapshot.completed`: a bucket can drive replication with no omnimigrate process in the loop.
Only notifications of the worker's own store count (its bucket, under its prefix); any other
record is dropped and logged.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote_plus

import structlog
from pydantic import BaseModel, Field, TypeAdapter, ValidationError


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex[:12]}"


class _Event(BaseModel):
    instance: str  # the instance's name in the config (or its store name)
    snapshot_id: str | None = None
    run_id: str = Field(default_factory=new_run_id)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class BackupRequested(_Event):
    type: Literal["backup.requested"] = "backup.requested"
    full: bool = False


class SnapshotCompleted(_Event):
    type: Literal["snapshot.completed"] = "snapshot.completed"
    status: str = "complete"


class RestoreRequested(_Event):
    type: Literal["restore.requested"] = "restore.requested"
    target: str
    options: dict[str, Any] = Field(default_factory=dict)


class RestoreCompleted(_Event):
    type: Literal["restore.completed"] = "restore.completed"
    target: str
    complete: bool = True


class DrillRequested(_Event):
    """A DR drill (`omnimigrate drill`): restore `snapshot_id` (latest when absent) into
    `target`, verify it, check its content, and keep the evidence beside the snapshot."""

    type: Literal["drill.requested"] = "drill.requested"
    target: str
    options: dict[str, Any] = Field(default_factory=dict)


class DrillCompleted(_Event):
    """A drill's figures, as drill.json holds them (docs/drill-format.md)."""

    type: Literal["drill.completed"] = "drill.completed"
    target: str
    drill_id: str
    passed: bool
    evidence: str  # the drill's folder, with the store's URL: drill.json and drill.html
    fidelity: dict[str, float]  # percent per object type
    fidelity_percent: float  # all types
    rpo_seconds: float
    rto_seconds: float  # measured: the apply's wall time
    rto_estimate_seconds: float  # the plan's estimate
    new_content_issues: int
    blocked: int
    blocked_unacknowledged: int


class RunFailed(_Event):
    type: Literal["run.failed"] = "run.failed"
    job: str
    error: str


Event = Annotated[
    BackupRequested
    | SnapshotCompleted
    | RestoreRequested
    | RestoreCompleted
    | DrillRequested
    | DrillCompleted
    | RunFailed,
    Field(discriminator="type"),
]
_EVENT = TypeAdapter(Event)


def run_failed(event: Event, error: str) -> RunFailed:
    """The failure report of the job `event` asked for."""
    return RunFailed(instance=event.instance, snapshot_id=event.snapshot_id,
                     run_id=event.run_id, job=event.type, error=error)  # fmt: skip


class BadEvent(Exception):
    """A message that is neither an omnimigrate event nor an S3 manifest notification."""


@dataclass(frozen=True)
class StoreBucket:
    """Where the S3 notifications of this worker's store come from."""

    bucket: str
    prefix: str  # without slashes at either end; "" for the bucket's root


def parse_event(body: str, store: StoreBucket | None = None) -> list[Event]:
    """One omnimigrate event, or the snapshot.completed events of an S3 notification about
    `store`'s manifests (with no store on S3, S3 notifications yield nothing)."""
    try:
        raw = json.loads(body)
    except ValueError:
        raise BadEvent(f"message is not JSON: {body[:80]!r}") from None
    if isinstance(raw, dict) and isinstance(raw.get("Message"), str):  # delivered through SNS
        return parse_event(raw["Message"], store)
    if isinstance(raw, dict) and "Records" in raw:
        return [e for r in raw["Records"] if (e := _from_s3(r, store))]
    try:
        return [_EVENT.validate_python(raw)]
    except ValidationError as exc:
        raise BadEvent(f"not an omnimigrate event: {exc.errors()[0]['msg']}") from None


def _from_s3(record: dict[str, Any], store: StoreBucket | None) -> SnapshotCompleted | None:
    if not str(record.get("eventName", "")).startswith("ObjectCreated"):
        return None
    s3 = record.get("s3", {})
    bucket = s3.get("bucket", {}).get("name")
    key = unquote_plus(s3.get("object", {}).get("key", ""))
    under = f"{store.prefix}/" if store and store.prefix else ""
    if store is None or bucket != store.bucket or not key.startswith(under):
        structlog.get_logger("omnimigrate.events").warning(
            "events.notification_ignored", bucket=bucket, key=key,
            reason="not this worker's store" if store else "this worker's store is not on S3",
        )  # fmt: skip
        return None
    parts = key.removeprefix(under).split("/")
    if len(parts) != 4 or parts[0] != "snapshots" or parts[3] != "manifest.json":
        return None  # a blob, a lock, a ledger: not a finished snapshot
    return SnapshotCompleted(instance=parts[1], snapshot_id=parts[2])


def dump_event(event: Any) -> str:
    return event.model_dump_json()
