"""The snapshot as restore and verify see it: typed objects keyed by natural keys, with every
source id already turned into a natural key (an email, a group name, a folder path, a model
key). Each handler declares its part (its `View`) and its `load` fills it in; the registry
composes them (`registry.SnapshotView`); the planner sees only these models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from omnimigrate.platforms.omni.principals import Principal
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest, ObjectEntry

ID_TYPES = ("user", "group", "email_only_user", "model", "connection", "folder")


class ViewBase(BaseModel):
    """What every snapshot view has; each handler adds its part (its `View`), composed in
    `registry.SnapshotView`."""

    snapshot_id: str
    instance: str
    export_flavour: str


class SnapshotReader:
    """Reads a snapshot's entries and blobs, and resolves source ids to natural keys."""

    def __init__(self, manifest: Manifest, blobs: BlobStore) -> None:
        self.manifest = manifest
        self.blobs = blobs
        self._ids: dict[str, dict[str, str]] = {
            kind: {o.source_id: o.key for o in manifest.of_type(kind) if o.source_id}
            for kind in ID_TYPES
        }
        self._by_key = {(o.type, o.key): o for o in manifest.objects}

    def entries(self, type_: str) -> Iterable[ObjectEntry]:
        return self.manifest.of_type(type_)

    def entry(self, type_: str, key: str) -> ObjectEntry | None:
        return self._by_key.get((type_, key))

    def blob(self, entry: ObjectEntry | None) -> Any:
        return self.blobs.get(entry.blob) if entry and entry.blob else None

    def blob_of(self, type_: str, key: str) -> Any:
        return self.blob(self.entry(type_, key))

    def user(self, user_id: str | None) -> str | None:
        """A user's email, from a SCIM user or an email-only user's id."""
        return self._ids["user"].get(user_id or "") or self._ids["email_only_user"].get(
            user_id or ""
        )

    def model(self, model_id: str | None) -> str | None:
        return self._ids["model"].get(model_id or "")

    def connection(self, connection_id: str | None) -> str | None:
        return self._ids["connection"].get(connection_id or "")

    def principal(self, kind: str, pid: str, email: str | None = None) -> Principal | None:
        if kind == "user":
            key = self.user(pid) or (email.lower() if email else None)
            return Principal(kind="user", key=key) if key else None
        name = self._ids["group"].get(pid)
        return Principal(kind="group", key=name) if name else None
