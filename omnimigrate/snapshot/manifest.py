"""The manifest: one per snapshot, written last, naming every object and its blob.

A snapshot exists for readers (listing, restore, `latest`) only once its manifest is in the
store; everything a run writes before that is either a shared blob or run bookkeeping.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from omnimigrate import __version__
from omnimigrate.hints import command_line

FORMAT_VERSION = 1
SUPPORTED_FORMATS = (1,)

# An object's type is its platform's (Omni's: `folder`, `document_export`, ...): a lower-case
# name, checked here only for its form.
ObjectType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class SnapshotFormatError(Exception):
    """A manifest that cannot be used: unreadable, invalid, or of an unknown format version."""


class ObjectEntry(BaseModel):
    """One captured object. `key` is its natural key on any instance (folder path, document
    identifier, label name, user email, group name, connection/model name); `blob` is None
    when the object could not be captured, and `warnings` then says why."""

    model_config = ConfigDict(extra="forbid")

    type: ObjectType
    key: str
    source_id: str | None = None
    blob: str | None = None
    updated_at: str | None = None
    warnings: list[str] = Field(default_factory=list)
    # Source ids the blob points at, copied out so that restore plans without reading it;
    # None in entries written before they were recorded (restore then reads the blob).
    refs: dict[str, str | None] | None = None


class Failure(BaseModel):
    job: str
    object: str
    error: str


class KeyStats(BaseModel):
    requests: int = 0
    throttled: int = 0


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    tool_version: str = __version__
    # whose snapshot this is; manifests written before platforms existed are all Omni's
    platform: str = "omni"
    snapshot_id: str
    instance: str
    source_url: str
    status: Literal["complete", "partial"]
    started_at: datetime
    finished_at: datetime
    export_flavour: Literal["official", "seed", "none"] = "none"
    encryption: str | None = None  # e.g. "aes-256-gcm key 3f9a…" (the key's fingerprint)
    options: dict[str, object] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    keys: dict[str, KeyStats] = Field(default_factory=dict)
    objects: list[ObjectEntry] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)

    @property
    def warnings(self) -> list[tuple[ObjectEntry, str]]:
        return [(o, w) for o in self.objects for w in o.warnings]

    def of_type(self, kind: str) -> Iterable[ObjectEntry]:
        return (o for o in self.objects if o.type == kind)


def count_objects(objects: Iterable[ObjectEntry]) -> dict[str, int]:
    return dict(sorted(Counter(o.type for o in objects if o.blob).items()))


def object_count(manifest: Manifest) -> int:
    """The objects a snapshot holds (those with a blob; a refusal is a warning, not an
    object): the one number the backup's log, its summary and `snapshots list` give."""
    return sum(manifest.counts.values())


def key_segment(text: str, fallback: str) -> str:
    """Text made safe as one segment of a store key (`fallback` when nothing is left)."""
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.") or fallback


def instance_slug(url: str) -> str:
    """The store's name for an instance: its host (and port), safe as a key segment."""
    return key_segment(urlsplit(url).netloc, "instance")


def new_snapshot_id(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def manifest_key(instance: str, snapshot_id: str) -> str:
    return f"snapshots/{instance}/{snapshot_id}/manifest.json"


def dump_manifest(manifest: Manifest) -> bytes:
    return manifest.model_dump_json(indent=1).encode()


def load_manifest(data: bytes, name: str, store_url: str | None = None) -> Manifest:
    """Parse a manifest, naming the file and the fault when it cannot be used (`store_url`:
    the store it is in, for the hint)."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        check = command_line("snapshots", "verify", all=True, store=store_url)
        raise SnapshotFormatError(
            f"manifest {name} is not JSON (truncated or damaged); `{check}` checks the others: "
            "restore from one that is whole"
        ) from None
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version not in SUPPORTED_FORMATS:
        raise SnapshotFormatError(
            f"manifest {name} has snapshot format version {version!r}; this omnimigrate "
            f"({__version__}) reads versions {', '.join(map(str, SUPPORTED_FORMATS))}: "
            "upgrade omnimigrate to read it"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise SnapshotFormatError(
            f"manifest {name} is invalid at {where}: {first['msg']}"
        ) from None
