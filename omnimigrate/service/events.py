"""The events a run publishes and `serve` consumes. Each names its instance, snapshot and run.

Amazon S3 event notifications (ObjectCreated on a snapshot manifest) are accepted too, as
`snapshot.completed`: a bucket can drive replication with no omnimigrate process in the loop.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote_plus

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


class RunFailed(_Event):
    type: Literal["run.failed"] = "run.failed"
    job: str
    error: str


Event = Annotated[
    BackupRequested | SnapshotCompleted | RestoreRequested | RestoreCompleted | RunFailed,
    Field(discriminator="type"),
]
_EVENT = TypeAdapter(Event)


class BadEvent(Exception):
    """A message that is neither an omnimigrate event nor an S3 manifest notification."""


def parse_event(body: str) -> list[Event]:
    """One omnimigrate event, or the snapshot.completed events of an S3 notification."""
    try:
        raw = json.loads(body)
    except ValueError:
        raise BadEvent(f"message is not JSON: {body[:80]!r}") from None
    if isinstance(raw, dict) and isinstance(raw.get("Message"), str):  # delivered through SNS
        return parse_event(raw["Message"])
    if isinstance(raw, dict) and "Records" in raw:
        return [e for r in raw["Records"] if (e := _from_s3(r))]
    try:
        return [_EVENT.validate_python(raw)]
    except ValidationError as exc:
        raise BadEvent(f"not an omnimigrate event: {exc.errors()[0]['msg']}") from None


def _from_s3(record: dict[str, Any]) -> SnapshotCompleted | None:
    if not str(record.get("eventName", "")).startswith("ObjectCreated"):
        return None
    key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
    parts = key.split("/")
    if len(parts) < 4 or parts[-1] != "manifest.json" or parts[-4] != "snapshots":
        return None
    return SnapshotCompleted(instance=parts[-3], snapshot_id=parts[-2])


def dump_event(event: Any) -> str:
    return event.model_dump_json()
