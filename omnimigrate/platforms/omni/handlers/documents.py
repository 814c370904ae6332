"""Documents (dashboards and workbooks), by identifier: the export, then what an import does
not carry (DIGEST §5), each as its own step: description, labels, owner, direct permits, and
the scope of a document outside any folder.

Exports are the bulk of a snapshot: backup reuses an unchanged document's last export
(incremental by `updatedAt`), and restore reads each export once, when its import runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.handler import JobTemplate
from omnimigrate.engine.jobs import EXPORT, LISTING, JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.engine.restore_ledger import LedgerRecord
from omnimigrate.engine.scope import PathFilter, ancestors
from omnimigrate.errors import ApiStatusError, NotFound
from omnimigrate.http.retry import permanent
from omnimigrate.platforms.omni import api_objects as m
from omnimigrate.platforms.omni import trash
from omnimigrate.platforms.omni.backup import dump_all
from omnimigrate.platforms.omni.handler import ActionKind, Handler
from omnimigrate.platforms.omni.handlers import models
from omnimigrate.platforms.omni.handlers.folders import folder_action_id
from omnimigrate.platforms.omni.handlers.identities import (
    missing_reason,
    plan_grants,
    principal_ids,
    user_ok,
)
from omnimigrate.platforms.omni.handlers.labels import label_action_id
from omnimigrate.platforms.omni.handlers.models import YAML_KINDS, target_model, yaml_action_id
from omnimigrate.platforms.omni.identifiers import SUFFIX, new_identifier
from omnimigrate.platforms.omni.principals import (
    Grant,
    Principal,
    by_principal,
    grant_keys,
    permit_calls,
    permit_key,
    permit_role,
    permit_writes,
)
from omnimigrate.snapshot.blobs import canonical_json
from omnimigrate.snapshot.manifest import ObjectEntry

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
    from omnimigrate.platforms.omni.verifying import VerifyContext

IMPORT = "document.import"
IMPORT_FIELDS = ("document", "exportVersion", "queryModels", "dashboard", "workbookModel",
                 "fileUploads")  # fmt: skip
EXPORT_JOB = JobTemplate("export", EXPORT)
PERMISSIONS_JOB = JobTemplate("document_permissions")

# A document's own writes: (step, the steps it waits for, why).
DOCUMENT_STEPS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("import", (), "its folder and model's YAML first; identifier, name, model and folder path"),
    ("description", ("import",), "an import carries no description"),
    ("labels", ("import",), "and each label itself"),
    ("permissions", ("import",), "with the owner's permit a transfer needs, in the same calls"),
    ("owner", ("import", "permissions"), "and the owner's user; resets the previous owner's role"),
    ("scope", ("import",), "only outside any folder: Omni gives an import its own scope"),
)
_AFTER = {step: waits for step, waits, _ in DOCUMENT_STEPS}


def document_step(identifier: str, step: str) -> str:
    """The action id of one of a document's writes."""
    if step not in _AFTER:
        raise ValueError(f"{step!r} is not one of DOCUMENT_STEPS")
    return action_id("document", identifier, step)


def after(identifier: str, step: str) -> list[str]:
    """The action ids a document's `step` waits for."""
    return [document_step(identifier, s) for s in _AFTER[step]]


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


class TargetDocument(BaseModel):
    identifier: str
    name: str | None = None
    description: str | None = None
    folder_path: str | None = None
    scope: str | None = None
    owner_id: str | None = None
    labels: list[str] = Field(default_factory=list)


def label_names(labels: list[Any]) -> list[str]:
    """Labels as names: the official list gives strings, the older spec `{name, verified}`."""
    return sorted(x if isinstance(x, str) else x["name"] for x in labels)


# ---------------------------------------------------------------------- backup


async def list_documents(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    return await _records(ctx, client.list_documents(include_deleted=True))


async def list_user_documents(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    """One owner's restricted documents (organization ones come from the listing above)."""
    return await _records(
        ctx, client.list_documents(include_deleted=True, creatorId=args["id"]), "restricted"
    )


async def _records(ctx: BackupContext, docs: Any, only_scope: str | None = None) -> JobResult:
    result = JobResult()
    async for doc in docs:
        if only_scope and doc.scope != only_scope:
            continue
        if not ctx.scope(doc.folder.path if doc.folder else ""):
            continue
        result.entries.append(
            await ctx.entry("document", doc.identifier, doc.dump(), updated_at=doc.updated_at)
        )
        reused = _reused_export(ctx, doc)
        result.entries += reused
        if not reused:
            export = EXPORT_JOB.job(doc.identifier, doc.identifier)
            export.args["updated_at"] = doc.updated_at or ""
            result.children.append(export)
        if not doc.deleted:  # the trash has no permissions to read
            result.children.append(PERMISSIONS_JOB.job(doc.identifier, doc.identifier))
    return result


def _reused_export(ctx: BackupContext, doc: m.Document) -> list[ObjectEntry]:
    """Incremental: an unchanged document keeps its last export (or Omni's refusal to export
    it) with no request; `--full` asks again."""
    last = ctx.previous.get(doc.identifier)
    if last is None or not doc.updated_at or last.updated_at != doc.updated_at:
        return []
    ctx.reused += 1
    return [last]


async def export(ctx: BackupContext, client: OmniClient, args: Mapping[str, str]) -> JobResult:
    key, updated = args["key"], args["updated_at"] or None
    ctx.exports += 1
    try:
        exported = await client.export_document(args["id"])
    except ApiStatusError as err:
        if not permanent(err):
            raise
        warning = f"export refused by Omni ({err.status}): {err.detail}"
        entry = ObjectEntry(type="document_export", key=key, updated_at=updated, warnings=[warning])
        return JobResult(entries=[entry])
    refs = {"base_model_id": exported.base_model_id}
    entry = await ctx.entry("document_export", key, exported.dump(), updated_at=updated, refs=refs)
    return JobResult(entries=[entry], facts={"export_flavour": exported.flavour})


async def read_permissions(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    return await ctx.refusable(
        "document_permissions", args, lambda: dump_all(client.access_list(args["id"]))
    )


# ---------------------------------------------------------------------- snapshot view


def load(r: SnapshotReader, view: View) -> None:
    shared_by_connection: dict[str, list[str]] = {}
    for key, shared in part(view, models.View).models.items():
        if shared.kind in YAML_KINDS and shared.connection:
            shared_by_connection.setdefault(shared.connection, []).append(key)
    for o in r.entries("document"):
        raw = r.blob(o) or {}
        exported = r.entry("document_export", o.key)
        model = r.model(_base_model_id(r, exported))
        if model is None:  # fall back on the connection's only shared model
            candidates = shared_by_connection.get(r.connection(raw.get("connectionId")) or "", [])
            model = candidates[0] if len(candidates) == 1 else None
        view.documents[o.key] = SourceDocument(
            identifier=o.key,
            name=raw.get("name", o.key),
            description=raw.get("description"),
            folder_path=(raw.get("folder") or {}).get("path"),
            scope=raw.get("scope"),
            owner=r.user((raw.get("owner") or {}).get("id")),
            labels=label_names(raw.get("labels", [])),
            deleted=bool(raw.get("deleted")),
            has_dashboard=bool(raw.get("hasDashboard", True)),
            model=model,
            export_blob=exported.blob if exported else None,
            export_warning=next(iter(exported.warnings), None)
            if exported
            else "no export in the snapshot",
            grants=_grants(r, r.blob_of("document_permissions", o.key) or []),
        )


def _grants(r: SnapshotReader, access: list[dict[str, Any]]) -> list[Grant]:
    grants = []
    for p in access:
        if p.get("accessSource") != "direct" or p.get("isOwner"):
            continue  # inherited access is not replayed (DIGEST G9)
        principal = r.principal(p["type"], p["id"], p.get("email"))
        if principal:
            grants.append(
                Grant(principal=principal, role=p["role"], access_boost=bool(p.get("accessBoost")))
            )
    return by_principal(grants)


def _base_model_id(r: SnapshotReader, exported: ObjectEntry | None) -> str | None:
    """From the entry's refs; only a snapshot that predates them has its export read here
    (otherwise each export is read once, when its import runs)."""
    if exported is None:
        return None
    if exported.refs is not None:
        return exported.refs.get("base_model_id")
    return m.workbook_base_model((r.blob(exported) or {}).get("workbookModel"))


# ---------------------------------------------------------------------- inventory


async def read_target(client: OmniClient, inv: Target) -> None:
    """The organization's documents, its trash in the same pages (`read_trash` keeps what
    the snapshot calls for): a second walk for the trash would cost a first restore, where
    every document is missing, one more per owner."""
    async for doc in client.list_documents(include_deleted=True):
        _listed(inv, doc)


async def read_target_of_user(client: OmniClient, inv: Target, user_id: str) -> None:
    async for doc in client.list_documents(include_deleted=True, creatorId=user_id):
        _listed(inv, doc)


def _listed(inv: Target, doc: m.Document) -> None:
    (inv.trashed if doc.deleted else inv.documents).setdefault(doc.identifier, _target(doc))


def read_trash(inv: Target, view: View) -> list[Callable[[OmniClient], Awaitable[None]]]:
    """The target's trash (`trash.py`), read with the listings: only what the snapshot names
    and the target does not hold live is kept, and the new identifiers restores gave them,
    deleted since (identifiers.py). Nothing more to read."""
    missing = {i for i in view.documents if i not in inv.documents}
    inv.trashed = {i: d for i, d in inv.trashed.items() if i.partition(SUFFIX)[0] in missing}
    return []


def _target(doc: m.Document) -> TargetDocument:
    return TargetDocument(
        identifier=doc.identifier,
        name=doc.name,
        description=doc.description,
        folder_path=doc.folder.path if doc.folder else None,
        scope=doc.scope,
        owner_id=doc.owner.id if doc.owner else None,
        labels=label_names(doc.labels),
    )


# ---------------------------------------------------------------------- plan


def selected(ctx: PlanContext[View, Target]) -> list[SourceDocument]:
    """The documents this restore writes, by identifier: live ones (deleted ones too with
    --include-deleted), less those --include leaves out and --exclude names."""
    chosen = []
    for doc in sorted(ctx.view.documents.values(), key=lambda d: d.identifier):
        if doc.deleted and not ctx.opt.include_deleted:
            continue
        if ctx.opt.include and not _in(ctx, doc, ctx.opt.include):
            continue
        if ctx.opt.exclude and _in(ctx, doc, ctx.opt.exclude):
            continue
        chosen.append(doc)
    return chosen


def _in(ctx: PlanContext[View, Target], doc: SourceDocument, patterns: list[str]) -> bool:
    """A document an --include/--exclude pattern names: by a handler's selector
    (`label:NAME`, `document:IDENTIFIER`), else by its folder's glob."""
    folder_globs = tuple(p for p in patterns if ":" not in p)
    for p in patterns:
        kind, _, value = p.partition(":")
        if kind in ctx.selectors and ctx.selectors[kind](doc, value):
            return True
    return bool(folder_globs) and PathFilter(include=folder_globs)(doc.folder_path)


def aliases(ctx: PlanContext[View, Target]) -> dict[str, str]:
    """Source identifier -> the one a restore brought it back under (`trash.py`)."""
    return trash.restored_as(ctx.ledger, ctx.inv)


def references(ctx: PlanContext[View, Target]) -> Iterable[str]:
    """What the selected documents name: their folders (and those folders' parents), their
    labels, owners and grantees."""
    if not ctx.filtered:
        return ()
    return _names(ctx.once(selected))


def _names(docs: Iterable[SourceDocument]) -> set[str]:
    names: set[str] = set()
    for d in docs:
        if d.folder_path:
            names |= {folder_action_id(a) for a in ancestors(d.folder_path)}
        names |= {label_action_id(x) for x in d.labels}
        names |= principal_ids(g.principal for g in d.grants)
        names |= principal_ids([Principal(kind="user", key=d.owner)] if d.owner else [])
    return names


def plan(ctx: PlanContext[View, Target]) -> None:
    """Each document's import, then its own writes in DOCUMENT_STEPS order."""
    for doc in ctx.once(selected):
        _plan_import(ctx, doc)
        ident = doc.identifier
        if doc.description:  # import carries no description (DIGEST §5)
            ctx.decide(
                Action(id=document_step(ident, "description"), kind="document.description",
                       object=ident, op="create",
                       params={"identifier": ident, "description": doc.description}),
                after(ident, "description"),
            )  # fmt: skip
        if doc.labels:
            labels = sorted(doc.labels)
            ctx.decide(
                Action(id=document_step(ident, "labels"), kind="document.labels", object=ident,
                       op="create", params={"identifier": ident, "labels": labels}),
                [*after(ident, "labels"), *(label_action_id(x) for x in labels)],
            )  # fmt: skip
        plan_grants(
            ctx, document_step(ident, "permissions"), "document.permissions", ident,
            {"identifier": ident}, doc.grants, after(ident, "permissions"),
            of=document_step(ident, "import"),
        )  # fmt: skip
        if doc.owner:
            _plan_owner(ctx, doc)
        if not doc.folder_path:  # in a folder it takes the folder's scope
            _plan_scope(ctx, doc)


def _plan_owner(ctx: PlanContext[View, Target], doc: SourceDocument) -> None:
    ident, owner = doc.identifier, doc.owner or ""
    grantees = sorted(g.principal.key for g in doc.grants if g.principal.kind == "user")
    action = Action(id=document_step(ident, "owner"), kind="document.owner", object=ident,
                    op="create", params={"identifier": ident, "owner": owner, "grantees": grantees})  # fmt: skip
    if not user_ok(ctx, owner):
        ctx.mark(action, "blocked", missing_reason(Principal(kind="user", key=owner)))
    else:
        ctx.decide(action, [*after(ident, "owner"), action_id("user", owner)])


def _plan_scope(ctx: PlanContext[View, Target], doc: SourceDocument) -> None:
    """A document outside any folder gets whatever scope Omni gives an import: set it."""
    ident = doc.identifier
    action = Action(id=document_step(ident, "scope"), kind="document.scope", object=ident,
                    op="create", params={"identifier": ident, "scope": doc.scope},
                    depends_on=after(ident, "scope"))  # fmt: skip
    if doc.scope is None:
        ctx.mark(action, "blocked", "the snapshot does not say this document's scope")
    else:
        ctx.decide(action)


def core_digest(action: Action) -> str:
    """The digest of an import without its model: an import whose core is unchanged and
    whose model changed needs only update-model."""
    core = {k: v for k, v in action.params.items() if k not in ("base_model_id", "model")}
    return hashlib.sha256(canonical_json([IMPORT, core])).hexdigest()[:16]


def _plan_import(ctx: PlanContext[View, Target], doc: SourceDocument) -> Action:
    ident = doc.identifier
    model = target_model(ctx, doc.model)
    folder_id = folder_action_id(doc.folder_path) if doc.folder_path else None
    yaml_id = yaml_action_id(doc.model)  # waited for only when this restore writes it
    parents = [folder_id] if folder_id else []
    parents += [yaml_id] if yaml_id in ctx.actions and ctx.actions[yaml_id].writes else []
    action = Action(
        id=document_step(ident, "import"), kind=IMPORT, object=ident, op="create",
        depends_on=parents,
        params={"identifier": ident, "name": doc.name,
                "folder_path": doc.folder_path, "export_blob": doc.export_blob,
                "model": doc.model, "base_model_id": model[0] if model else None},
    )  # fmt: skip
    if doc.export_blob is None:
        return ctx.mark(action, "blocked", f"no export in the snapshot ({doc.export_warning})")
    if model is None:
        return ctx.mark(action, "blocked", f"model {doc.model} is not on the target (--model-map)")
    if ctx.op_of(folder_id) == "blocked":
        return ctx.mark(action, "blocked", f"blocked by {folder_id}")
    rec = ctx.ledger.get(action.id)
    restored = ctx.once(aliases)
    if ident in restored and rec:
        unchanged = (
            rec.detail.get("core") == core_digest(action)
            and rec.detail.get("model") == action.params["base_model_id"]
        )
        return trash.plan_restored(ctx, action, restored[ident], unchanged)
    if ident in ctx.inv.trashed:
        return trash.plan_trashed(ctx, action)
    if ident not in ctx.inv.documents:
        gone = action.model_copy(update={"reason": "gone from the target" if rec else ""})
        return ctx.decide(gone, absent=True)
    if rec and rec.digest == action.digest:
        if rec.status == "done":
            return ctx.mark(action, "skip", "unchanged since the last restore")
        return ctx.add(action.model_copy(
            update={"op": "skip", "adopt": True, "reason": "created by an interrupted run"}
        ))  # fmt: skip
    if rec and rec.detail.get("core") == core_digest(action):
        return ctx.add(action.model_copy(
            update={"kind": "document.update_model", "op": "update",
                    "reason": f"now on model {doc.model} (update-model)"}
        ))  # fmt: skip
    if rec:
        return ctx.mark(action, "update", "the snapshot changed since the last restore")
    if ctx.opt.on_conflict == "overwrite":
        return ctx.mark(action, "update", "exists on the target (--on-conflict overwrite)")
    if ctx.opt.on_conflict == "rename":
        return ctx.decide(action.model_copy(update={
            "params": {**action.params, "rename": True},
            "reason": "exists on the target: imported under a new identifier",
        }))  # fmt: skip
    return ctx.mark(action, "conflict", "exists on the target and was not restored by omnimigrate")


# ---------------------------------------------------------------------- apply


async def import_document(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    p = a.params
    exported = await asyncio.to_thread(ctx.blobs.get, p["export_blob"])
    if "queryModels" not in exported:
        raise RestoreError(
            "the snapshot's export has no queryModels (older export format); Omni's import "
            "requires them: take a new backup and restore from it"
        )
    body = {k: exported[k] for k in IMPORT_FIELDS if k in exported}
    body |= {
        "baseModelId": p["base_model_id"],
        "document": {**exported["document"], "name": p["name"]},
    }
    if p["folder_path"]:
        body["folderPath"] = p["folder_path"]
    if a.op == "update" and not p.get("rename"):
        with contextlib.suppress(NotFound):
            await _set_aside(ctx, c, p["identifier"])
    if p.get("rename"):
        await ctx.record(a, "started", p["identifier"])
        result, asked = await c.import_document(body), p["identifier"]
    else:
        result, asked = await _import_as(ctx, c, a, body, a.have.get("as") or p["identifier"])
    target = result.identifier or asked
    ctx.ids.documents[p["identifier"]] = target
    ctx.ids.queries.forget(target)  # a new import: its query keys may be new
    if result.key_map:
        ctx.ids.key_maps[p["identifier"]] = result.key_map
    await _record_import(ctx, a, target)


async def _import_as(
    ctx: ApplyContext, c: OmniClient, a: Action, body: dict[str, Any], identifier: str
) -> tuple[m.ImportResult, str]:
    """Import under `identifier`, named in the ledger before the import is sent: a run killed
    once Omni made it finds it there and adopts it (`engine/protocol.py`). A plan that may
    fall back on a new identifier (the trash holds this one) tries that when Omni refuses."""
    await ctx.write(a.id, _intent(a, identifier))
    try:
        return await c.import_document({**body, "identifier": identifier}), identifier
    except ApiStatusError as err:
        fallback = a.have.get("fallback")
        if not (fallback and err.status == 400 and trash.IN_USE in err.detail):
            raise
    ctx.log.info("restore.identifier_taken", document=identifier, imported_as=fallback)
    await ctx.write(a.id, _intent(a, fallback))
    return await c.import_document({**body, "identifier": fallback}), fallback


async def _set_aside(ctx: ApplyContext, c: OmniClient, identifier: str) -> None:
    """The document a replace overwrites goes to the trash under another identifier: the
    trash may keep the one it had (trash.py), which the import is about to take."""
    aside = new_identifier(identifier, trash.taken(part(ctx.inventory, Target)), suffix="-replaced")
    await c.update_document(identifier, new_identifier=aside, clear_existing_draft=True)
    await c.delete_document(aside)


def _intent(a: Action, identifier: str) -> LedgerRecord:
    return LedgerRecord(
        status="started", digest=a.digest, target=identifier, key=a.object, parent=a.parent
    )


async def adopt_import(ctx: ApplyContext, _c: OmniClient, a: Action) -> None:
    target = a.have.get("as") or a.params["identifier"]
    ctx.ids.documents[a.params["identifier"]] = target
    await _record_import(ctx, a, target)


async def _record_import(ctx: ApplyContext, a: Action, target: str) -> None:
    a = a.model_copy(update={"kind": IMPORT})  # what the next plan compares
    detail = {"core": core_digest(a), "model": a.params["base_model_id"]}
    record = LedgerRecord(status="done", digest=a.digest, target=target, detail=detail)
    await ctx.write(a.id, record)


async def update_model(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    """Point a restored document at another model (the older spec's update-model); an
    instance without that route gets the document re-imported on the new model."""
    ident = ctx.ids.document(a.params["identifier"])
    try:
        await c.update_document_model(ident, a.params["base_model_id"])
    except NotFound:
        ctx.log.info("restore.update_model_unavailable", document=ident)
        await import_document(ctx, c, a.model_copy(update={"op": "update"}))
        await ctx.rewrite_after_import(c, a.params["identifier"])
        return
    await _record_import(ctx, a, ident)


async def set_description(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    ident = ctx.ids.document(a.params["identifier"])
    await c.update_document(ident, description=a.params["description"])
    await ctx.record(a, "done")


async def set_scope(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    """Outside any folder: Omni's move takes the scope with `folderPath: null`."""
    ident = ctx.ids.document(a.params["identifier"])
    await c.move_document(ident, None, scope=a.params["scope"])
    await ctx.record(a, "done")


async def add_labels(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    await c.update_document_labels(ctx.ids.document(a.params["identifier"]), add=a.params["labels"])
    await ctx.record(a, "done")


async def write_permissions(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    """Only the direct permits that differ from the target's (`permit_writes`); the owner's
    entry is ownership, not a permit. A document this plan imported is not read: it has
    none yet, and its owner is the importing user. Where the owner step transfers the
    document next, the new owner's explicit permit (Omni's condition for a transfer, which
    takes it away again) goes in the same calls as these grants, and the current owner's
    grant is left to the owner step, after the transfer that resets it."""
    ident = ctx.ids.document(a.params["identifier"])
    have: dict[str, str] = {}
    current: str | None = None
    if not a.have.get("fresh"):
        async for p in c.access_list(ident, access_source="direct"):
            if p.is_owner:
                current = p.id
            else:
                have[permit_key(p.type, p.id)] = permit_role(p.role or "", p.access_boost)
    step = ctx.planned(document_step(a.params["identifier"], "owner"))
    owner = step.params["owner"] if step is not None and step.writes else None
    if owner and a.have.get("fresh"):
        current = await ctx.acting_user(lambda: owner_of(c, ident))
    planned = a
    if owner and ctx.ids.user(owner) != current:
        planned = a.model_copy(update={"params": {**a.params, "grants": [
            g for g in a.params["grants"] if _user_id(ctx, g) != current
        ]}})  # fmt: skip
    else:
        owner = None
    writes = permit_writes(ctx.ids, planned, have)
    if owner:
        owner_id = ctx.ids.user(owner)
        if permit_key("user", owner_id) not in have:  # in the first call, whatever its role
            role, boost = next(((g["role"], g["access_boost"]) for g in writes.grants),
                               ("MANAGER", False))  # fmt: skip
            writes.grants.append(
                {"principal": {"kind": "user", "key": owner}, "role": role, "access_boost": boost}
            )
        writes.users = [u for u in writes.users if u != owner_id]
        ctx.permitted_owners.add(ident)
    for (role, boost), users, groups in ctx.by_role(writes.grants):
        await c.add_document_permits(
            ident, role, user_ids=users, group_ids=groups, access_boost=boost
        )
    for (role, boost), users, groups in ctx.by_role(writes.changes):
        await c.update_document_permits(
            ident, role, user_ids=users, group_ids=groups, access_boost=boost
        )
    if writes.users or writes.groups:
        await c.revoke_document_permits(ident, user_ids=writes.users, group_ids=writes.groups)
    await ctx.record(a, "done")


def _user_id(ctx: ApplyContext, grant: dict[str, Any]) -> str | None:
    principal = grant["principal"]
    return ctx.ids.users.get(principal["key"]) if principal["kind"] == "user" else None


async def transfer_owner(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    """Transfer needs an explicit permit for the new owner first, which the permissions step
    gave with its grants where it ran; Omni then gives the previous owner MANAGER, set back
    here to the role the snapshot grants that user, or revoked (DIGEST G10). A first
    attempt knows the current owner (the importing user); a resumed or changed one asks,
    and sets right the restoring key's user's permit that an interrupted transfer left."""
    ident = ctx.ids.document(a.params["identifier"])
    owner = ctx.ids.user(a.params["owner"])
    held: dict[str | None, str | None]
    if a.op == "create":
        current = await ctx.acting_user(lambda: owner_of(c, ident))
        held = {owner: None} if ident in ctx.permitted_owners else {}
    else:
        current, held = await owner_and_permitted(c, ident)
    await ctx.record(a, "started")
    if current != owner:
        if owner not in held:
            await c.add_document_permits(ident, "MANAGER", user_ids=[owner])
        await c.transfer_document_ownership(ident, owner)
        held[current] = permit_role("MANAGER", False)  # Omni's doing
    granted = _granted(ctx, a)
    for user in dict.fromkeys((current, ctx.acting)):
        if user and user != owner and user in held and held[user] != granted.get(user):
            await _set_permit(c, ident, user, granted.get(user))
    await ctx.record(a, "done", owner)


def _granted(ctx: ApplyContext, a: Action) -> dict[str, str]:
    """The snapshot's user grants on the document of owner step `a`, as target user id ->
    permit role (the permissions step holds them; a grantee it lacks is left as it is)."""
    step = ctx.planned(document_step(a.params["identifier"], "permissions"))
    grants = step.params["grants"] if step is not None else []
    return {
        uid: permit_role(g["role"], g["access_boost"])
        for g in grants
        if (uid := _user_id(ctx, g)) and g["principal"]["key"] in a.params["grantees"]
    }


async def _set_permit(c: OmniClient, ident: str, user: str, role: str | None) -> None:
    """A user's direct permit to `role` (a permit_role), or none."""
    if role is None:
        await c.revoke_document_permits(ident, user_ids=[user])
        return
    name, _, boost = role.partition("+")
    await c.update_document_permits(ident, name, user_ids=[user], access_boost=bool(boost))


def identifier_changed(ctx: ApplyContext, a: Action) -> str | None:
    """What the restore report says of a document brought back under another identifier."""
    old, new = a.params["identifier"], ctx.ids.document(a.params["identifier"])
    if new == old or a.params.get("rename"):
        return None
    return f"restored as {new} ({old} is in the target's trash): links that use {old} break"


def import_requests(a: Action) -> int:
    """The import; a replace renames and deletes the old document first."""
    return 3 if a.op == "update" else 1


def transfer_requests(a: Action) -> int:
    """The transfer, the previous owner's permit, and the new owner's where no permissions
    step gives it (the owner read is once a run)."""
    return 3


async def owner_of(c: OmniClient, ident: str) -> str | None:
    return (await owner_and_permitted(c, ident))[0]


async def owner_and_permitted(
    c: OmniClient, ident: str
) -> tuple[str | None, dict[str | None, str | None]]:
    """A document's owner, and the users with a direct permit on it (-> permit role)."""
    owner, permitted = None, dict[str | None, str | None]()
    async for p in c.access_list(ident, access_source="direct"):
        if p.is_owner:
            owner = p.id
        elif p.type == "user":
            permitted[p.id] = permit_role(p.role or "", p.access_boost)
    return owner, permitted


# ---------------------------------------------------------------------- verify


async def verify(ctx: VerifyContext[View, Target]) -> None:
    t = ctx.report("documents")

    async def one(ident: str, c: OmniClient) -> None:
        want = ctx.view.documents[ident]
        t.checked += 1
        target = ctx.inv.documents.get(ctx.identifier(ident))
        if target is None:
            return t.missing(ident)
        access = [p.dump() async for p in c.access_list(target.identifier, access_source="direct")]
        owner = next((ctx.names.users.get(p["id"]) for p in access if p.get("isOwner")), None)
        expected = {
            "name": want.name, "description": want.description, "scope": want.scope,
            "folder": want.folder_path, "labels": sorted(want.labels),
            "permissions": grant_keys(want.grants), "owner": want.owner, "model": want.model,
        }  # fmt: skip
        have = {
            "name": target.name, "description": target.description, "scope": target.scope,
            "folder": target.folder_path, "labels": target.labels,
            "permissions": ctx.names.grant_set(p for p in access if not p.get("isOwner")),
            "owner": owner, "model": await _model_of(ctx, c, want),
        }  # fmt: skip
        t.check_all(ident, expected, have)

    await ctx.reads.each(ctx.documents, one)


def verify_references(ctx: VerifyContext[View, Target]) -> Iterable[str]:
    """What the documents verify compares name (`--document`: their folders)."""
    return _names(ctx.view.documents[i] for i in ctx.documents if i in ctx.view.documents)


def restorable(view: View) -> list[str]:
    """Documents a restore can bring back: live, with an export."""
    return sorted(i for i, d in view.documents.items() if not d.deleted and d.export_blob)


async def _model_of(
    ctx: VerifyContext[View, Target], c: OmniClient, want: SourceDocument
) -> str | None:
    """Dashboards name their model; Omni's API has no read of a workbook's model."""
    if not want.has_dashboard:
        return want.model
    config = await c.get_document(ctx.identifier(want.identifier))
    return ctx.names.models.get(config.model_id, config.model_id)


def named(doc: SourceDocument, identifier: str) -> bool:
    """`--include document:IDENTIFIER` (or `doc:`): that document."""
    return identifier == doc.identifier


class View(BaseModel):
    """This type's part of the snapshot view (`registry.SnapshotView`)."""

    documents: dict[str, SourceDocument] = Field(default_factory=dict)


class Target(BaseModel):
    """This type's part of the target inventory (`registry.TargetInventory`); `WRITTEN_BY`:
    the action-id kinds a restore writes each field's keys with."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "documents": "document", "trashed": "document",
    }  # fmt: skip

    documents: dict[str, TargetDocument] = Field(default_factory=dict)
    # in the trash, of the documents the snapshot names and the target holds none live of
    trashed: dict[str, TargetDocument] = Field(default_factory=dict)


HANDLER = Handler(
    name="documents",
    view=View,
    target=Target,
    ids=("document",),  # its action ids' kinds
    jobs={
        "documents": list_documents,
        "user_documents": list_user_documents,
        "export": export,
        "document_permissions": read_permissions,
    },
    roots=("documents",),
    keeps=("document_export",),  # an unchanged export is kept, not downloaded again
    content=("document",),
    selectors={"document": named, "doc": named},
    per_user=(JobTemplate("user_documents", LISTING),),
    load=load,
    read_target=(read_target,),
    read_target_per_user=read_target_of_user,
    read_target_for=read_trash,
    references=references,
    plan=plan,
    actions={
        IMPORT: ActionKind(
            import_document,
            adopt=adopt_import,
            requests=import_requests,
            creates=True,
            remakes=True,
            warning=identifier_changed,
        ),
        "document.update_model": ActionKind(update_model),
        "document.description": ActionKind(set_description, reset_by_import=True),
        "document.scope": ActionKind(set_scope, reset_by_import=True),
        "document.labels": ActionKind(add_labels, reset_by_import=True),
        "document.permissions": ActionKind(
            write_permissions, requests=permit_calls, reset_by_import=True
        ),
        "document.owner": ActionKind(
            transfer_owner, requests=transfer_requests, reset_by_import=True
        ),
    },
    verify=verify,
    verify_references=verify_references,
    explain=tuple(
        f"{step} ({'after ' + ' and '.join(waits) if waits else 'first'}): {why}"
        for step, waits, why in DOCUMENT_STEPS
    ),
)
