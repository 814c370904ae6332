"""The snapshot as restore sees it: typed objects keyed by natural keys, with every source
id already turned into a natural key (an email, a group name, a folder path, a model key).

This is the one adapter that reads blob JSON; the planner sees only these models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from omnimigrate.omni.delivery import Delivery, DeliveryShapeError, read_delivery
from omnimigrate.omni.models import Folder, workbook_base_model
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest, ObjectEntry

YAML_KINDS = ("SHARED", "SHARED_EXTENSION")


class Principal(BaseModel, frozen=True):
    kind: str  # "user" (by email) or "group" (by name)
    key: str


class Grant(BaseModel, frozen=True):
    principal: Principal
    role: str
    access_boost: bool = False


class SourceLabel(BaseModel):
    name: str
    verified: bool = False
    homepage: bool = False
    color: str | None = None
    description: str | None = None


def label_settings(label: SourceLabel) -> dict[str, object]:
    """What restore writes of a label, keyed as the target inventory keeps it."""
    return label.model_dump(include={"verified", "homepage", "color", "description"})


class SourceFolder(BaseModel):
    path: str
    name: str
    scope: str | None = None  # None: the snapshot does not say (never guessed)
    owner: str | None = None  # email
    grants: list[Grant] = Field(default_factory=list)


class SourceDocument(BaseModel):
    identifier: str
    name: str
    description: str | None = None
    folder_path: str | None = None
    scope: str | None = None  # as listed; None: the snapshot does not say
    owner: str | None = None
    labels: list[str] = Field(default_factory=list)
    deleted: bool = False
    has_dashboard: bool = True
    model: str | None = None  # model key: connection/kind/name
    export_blob: str | None = None
    export_warning: str | None = None
    grants: list[Grant] = Field(default_factory=list)


class SourceSchedule(BaseModel):
    key: str  # identifier/name
    identifier: str
    name: str
    owner: str | None = None
    paused: bool = False
    delivery: Delivery | None = None  # None: unreadable, `problem` says why
    problem: str | None = None
    emails: list[str] = Field(default_factory=list)  # users' and email-only recipients
    groups: list[str] = Field(default_factory=list)


class SourceModel(BaseModel):
    key: str
    source_id: str | None = None
    kind: str | None = None
    connection: str | None = None
    files: dict[str, str] | None = None  # the model's own layer
    combined_only: bool = False  # an older backup kept only the combined YAML
    git_follower: bool = False


class SourceRole(BaseModel, frozen=True):
    principal: Principal
    model: str | None  # model key
    connection: str | None  # connection name, for connection-wide roles
    role: str


class SourceUser(BaseModel):
    email: str
    display_name: str | None = None
    email_only: bool = False


class SourceGroup(BaseModel):
    name: str
    members: list[str] = Field(default_factory=list)  # emails


class SourceOrg(BaseModel):
    snapshot_id: str
    instance: str
    export_flavour: str
    labels: dict[str, SourceLabel] = Field(default_factory=dict)
    folders: dict[str, SourceFolder] = Field(default_factory=dict)
    documents: dict[str, SourceDocument] = Field(default_factory=dict)
    schedules: dict[str, SourceSchedule] = Field(default_factory=dict)
    models: dict[str, SourceModel] = Field(default_factory=dict)
    roles: list[SourceRole] = Field(default_factory=list)
    users: dict[str, SourceUser] = Field(default_factory=dict)
    groups: dict[str, SourceGroup] = Field(default_factory=dict)
    connections: list[str] = Field(default_factory=list)


class _Reader:
    """Reads blobs and resolves source ids to natural keys."""

    def __init__(self, manifest: Manifest, blobs: BlobStore) -> None:
        self.m = manifest
        self.blobs = blobs
        self.ids: dict[str, dict[str, str]] = {}
        for kind in ("user", "group", "email_only_user", "model", "connection", "folder"):
            self.ids[kind] = {o.source_id: o.key for o in manifest.of_type(kind) if o.source_id}
        self.by_key = {(o.type, o.key): o for o in manifest.objects}

    def blob(self, entry: ObjectEntry | None) -> Any:
        return self.blobs.get(entry.blob) if entry and entry.blob else None

    def blob_of(self, kind: str, key: str) -> Any:
        return self.blob(self.by_key.get((kind, key)))

    def user(self, user_id: str | None) -> str | None:
        return self.ids["user"].get(user_id or "") or self.ids["email_only_user"].get(user_id or "")

    def principal(self, kind: str, pid: str, email: str | None = None) -> Principal | None:
        if kind == "user":
            key = self.user(pid) or (email.lower() if email else None)
            return Principal(kind="user", key=key) if key else None
        name = self.ids["group"].get(pid)
        return Principal(kind="group", key=name) if name else None


def load_source(manifest: Manifest, blobs: BlobStore) -> SourceOrg:
    r = _Reader(manifest, blobs)
    org = SourceOrg(
        snapshot_id=manifest.snapshot_id,
        instance=manifest.instance,
        export_flavour=manifest.export_flavour,
        connections=sorted(o.key for o in manifest.of_type("connection")),
    )
    _identities(r, org)
    _labels(r, org)
    _models(r, org)
    _folders(r, org)
    _documents(r, org)
    _schedules(r, org)
    _roles(r, org)
    return org


def _identities(r: _Reader, org: SourceOrg) -> None:
    for o in r.m.of_type("user"):
        raw = r.blob(o) or {}
        org.users[o.key] = SourceUser(email=o.key, display_name=raw.get("displayName"))
    for o in r.m.of_type("email_only_user"):
        org.users.setdefault(o.key, SourceUser(email=o.key, email_only=True))
    for o in r.m.of_type("group"):
        raw = r.blob(o) or {}
        members = [r.user(m.get("value")) for m in raw.get("members", [])]
        org.groups[o.key] = SourceGroup(name=o.key, members=sorted(filter(None, members)))


def _labels(r: _Reader, org: SourceOrg) -> None:
    for o in r.m.of_type("label"):
        raw = r.blob(o) or {}
        org.labels[o.key] = SourceLabel.model_validate({**raw, "name": o.key})


def _models(r: _Reader, org: SourceOrg) -> None:
    for o in r.m.of_type("model"):
        raw = r.blob(o) or {}
        yaml = r.blob_of("model_yaml", o.key) or {}
        org.models[o.key] = SourceModel(
            key=o.key,
            source_id=o.source_id,
            kind=raw.get("modelKind"),
            connection=r.ids["connection"].get(raw.get("connectionId") or ""),
            files=yaml["yaml"].get("files") if yaml.get("yaml") else None,
            combined_only=bool(yaml) and yaml.get("layer") != "extension",
            git_follower=bool((yaml.get("git") or {}).get("gitFollower")),
        )


def _grants_from_permits(r: _Reader, permits: list[dict[str, Any]]) -> list[Grant]:
    grants = []
    for p in permits:
        kind, pid = ("user", p["userId"]) if p.get("userId") else ("group", p.get("userGroupId"))
        principal = r.principal(kind, pid or "")
        if principal:
            grants.append(
                Grant(principal=principal, role=p["role"], access_boost=bool(p.get("accessBoost")))
            )
    return sorted(grants, key=lambda g: (g.principal.kind, g.principal.key))


def _folders(r: _Reader, org: SourceOrg) -> None:
    for o in r.m.of_type("folder"):
        raw = r.blob(o) or {}
        org.folders[o.key] = SourceFolder(
            path=o.key,
            name=raw.get("name") or o.key.rsplit("/", 1)[-1],
            scope=raw.get("scope"),
            owner=r.user(Folder.model_validate(raw).owner_ref),
            grants=_grants_from_permits(r, r.blob_of("folder_permissions", o.key) or []),
        )


def _documents(r: _Reader, org: SourceOrg) -> None:
    shared_by_connection: dict[str, list[str]] = {}
    for key, model in org.models.items():
        if model.kind in YAML_KINDS and model.connection:
            shared_by_connection.setdefault(model.connection, []).append(key)
    for o in r.m.of_type("document"):
        raw = r.blob(o) or {}
        export = r.by_key.get(("document_export", o.key))
        model = r.ids["model"].get(_base_model_id(r, export) or "")
        if model is None:  # fall back on the connection's only shared model
            conn = r.ids["connection"].get(raw.get("connectionId") or "")
            candidates = shared_by_connection.get(conn or "", [])
            model = candidates[0] if len(candidates) == 1 else None
        grants = []
        for p in r.blob_of("document_permissions", o.key) or []:
            if p.get("accessSource") != "direct" or p.get("isOwner"):
                continue  # inherited access is not replayed (DIGEST G9)
            principal = r.principal(p["type"], p["id"], p.get("email"))
            if principal:
                grants.append(
                    Grant(
                        principal=principal, role=p["role"], access_boost=bool(p.get("accessBoost"))
                    )
                )
        org.documents[o.key] = SourceDocument(
            identifier=o.key,
            name=raw.get("name", o.key),
            description=raw.get("description"),
            folder_path=(raw.get("folder") or {}).get("path"),
            scope=raw.get("scope"),
            owner=r.user((raw.get("owner") or {}).get("id")),
            labels=sorted(
                lb if isinstance(lb, str) else lb["name"] for lb in raw.get("labels", [])
            ),
            deleted=bool(raw.get("deleted")),
            has_dashboard=bool(raw.get("hasDashboard", True)),
            model=model,
            export_blob=export.blob if export else None,
            export_warning=(export.warnings or [None])[0]
            if export
            else "no export in the snapshot",
            grants=sorted(grants, key=lambda g: (g.principal.kind, g.principal.key)),
        )


def _base_model_id(r: _Reader, export: ObjectEntry | None) -> str | None:
    """From the entry's refs; only a snapshot that predates them has its export read here
    (otherwise each export is read once, when its import runs)."""
    if export is None:
        return None
    if export.refs is not None:
        return export.refs.get("base_model_id")
    return workbook_base_model((r.blob(export) or {}).get("workbookModel"))


def _schedules(r: _Reader, org: SourceOrg) -> None:
    for o in r.m.of_type("schedule"):
        raw = r.blob(o)
        if not raw:
            continue
        summary, detail, recipients = raw["summary"], raw["schedule"], raw.get("recipients") or {}
        delivery, problem = None, None
        try:
            delivery = read_delivery(summary, detail, recipients)
        except DeliveryShapeError as err:
            problem = str(err)
        org.schedules[o.key] = SourceSchedule(
            key=o.key,
            identifier=summary["identifier"],
            name=summary["name"],
            owner=r.user(summary.get("ownerId") or detail.get("ownerId")),
            paused=bool(summary.get("disabledAt") or detail.get("disabledAt")),
            delivery=delivery,
            problem=problem,
            emails=recipient_emails(recipients),
            groups=recipient_groups(recipients),
        )


def recipient_emails(recipients: dict[str, Any]) -> list[str]:
    """Users' and email-only recipients of an email schedule (both specs: `recipients[].email`)."""
    return sorted(
        {
            x["email"].lower()
            for x in recipients.get("recipients") or []
            if isinstance(x, dict) and x.get("email")
        }
    )


def recipient_groups(recipients: dict[str, Any]) -> list[str]:
    """Group recipients of an email schedule, by name."""
    return sorted(g["name"] for g in recipients.get("userGroupRecipients") or [] if g.get("name"))


def _roles(r: _Reader, org: SourceOrg) -> None:
    for kind, type_ in (("user", "user_model_roles"), ("group", "group_model_roles")):
        for o in r.m.of_type(type_):
            for a in (r.blob(o) or {}).get("results", []):
                origin = (a.get("from") or {}).get("type")
                if origin != kind.upper():
                    continue  # inherited through a group, the org or the base role
                org.roles.append(
                    SourceRole(
                        principal=Principal(kind=kind, key=o.key),
                        model=r.ids["model"].get(a.get("modelId") or ""),
                        connection=r.ids["connection"].get(a.get("connectionId") or ""),
                        role=a["roleName"],
                    )
                )
