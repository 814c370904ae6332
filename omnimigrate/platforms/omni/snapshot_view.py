"""The snapshot as restore and verify see it: typed objects keyed by natural keys, with every
source id already turned into a natural key (an email, a group name, a folder path, a model
key). Each handler's `load` fills in its part; the planner sees only these models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from omnimigrate.engine.content import ContentCapture
from omnimigrate.platforms.omni.handlers.documents import SourceDocument
from omnimigrate.platforms.omni.handlers.folders import SourceFolder
from omnimigrate.platforms.omni.handlers.identities import SourceGroup, SourceUser
from omnimigrate.platforms.omni.handlers.labels import SourceLabel
from omnimigrate.platforms.omni.handlers.models import SourceModel
from omnimigrate.platforms.omni.handlers.roles import SourceRole
from omnimigrate.platforms.omni.handlers.schedules import SourceSchedule
from omnimigrate.platforms.omni.principals import Principal
from omnimigrate.platforms.omni.registry import REGISTRY
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest, ObjectEntry

ID_TYPES = ("user", "group", "email_only_user", "model", "connection", "folder")


class SnapshotView(BaseModel):
    snapshot_id: str
    instance: str
    export_flavour: str
    labels: dict[str, SourceLabel] = Field(default_factory=dict)
    folders: dict[str, SourceFolder] = Field(default_factory=dict)
    documents: dict[str, SourceDocument] = Field(default_factory=dict)
    favorites: dict[str, list[str]] = Field(default_factory=dict)  # email -> identifiers
    schedules: dict[str, SourceSchedule] = Field(default_factory=dict)
    models: dict[str, SourceModel] = Field(default_factory=dict)
    roles: list[SourceRole] = Field(default_factory=list)
    users: dict[str, SourceUser] = Field(default_factory=dict)
    groups: dict[str, SourceGroup] = Field(default_factory=dict)
    connections: list[str] = Field(default_factory=list)
    content: dict[str, ContentCapture] = Field(default_factory=dict)  # model key -> validator
    content_warnings: list[str] = Field(default_factory=list)


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


def load_snapshot_view(manifest: Manifest, blobs: BlobStore) -> SnapshotView:
    """Every handler loads its part, in registry order (documents read the models loaded
    before them)."""
    reader = SnapshotReader(manifest, blobs)
    view = SnapshotView(
        snapshot_id=manifest.snapshot_id,
        instance=manifest.instance,
        export_flavour=manifest.export_flavour,
    )
    for handler in REGISTRY.handlers:
        if handler.load:
            handler.load(reader, view)
    return view
