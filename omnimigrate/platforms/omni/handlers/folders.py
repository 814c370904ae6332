"""Folders, by path, with their scope, owner and direct permits.

Omni takes a folder's scope and owner only at create (G7), and derives its path from its name:
restore creates parents first with `scope` and `userId`, then forces the path. The official
folder record has no `scope`: backup reads it from the listing it came from (organization, or
the walk per owner for restricted ones), and a snapshot that does not say is never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import structlog
from pydantic import BaseModel, Field

from omnimigrate.engine import protocol
from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.handler import JobTemplate
from omnimigrate.engine.jobs import LISTING, JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.engine.protocol import adopted, claim, open_intent
from omnimigrate.engine.scope import PathFilter, ancestors
from omnimigrate.errors import ApiStatusError
from omnimigrate.logging import FOLDED
from omnimigrate.platforms.omni.api_objects import Folder
from omnimigrate.platforms.omni.handler import ActionKind, Handler
from omnimigrate.platforms.omni.handlers.identities import (
    identity_deps,
    plan_grants,
    principal_ids,
    user_ok,
)
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

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
    from omnimigrate.platforms.omni.verifying import VerifyContext


class SourceFolder(BaseModel):
    path: str
    name: str
    scope: str | None = None  # None: the snapshot does not say (never guessed)
    owner: str | None = None  # email
    grants: list[Grant] = Field(default_factory=list)


class TargetFolder(BaseModel):
    id: str
    path: str
    name: str | None = None
    scope: str
    owner_id: str | None = None


PERMISSIONS_JOB = JobTemplate("folder_permissions")


def folder_action_id(path: str) -> str:
    return action_id("folder", path)


# ---------------------------------------------------------------------- backup


async def list_folders(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    """Organization folders: asked for by scope, since the official folder record has no
    `scope` of its own (restricted ones come from the walk per owner)."""
    return await _records(ctx, client.list_folders(scope="organization"), "organization")


async def list_user_folders(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    """One owner's restricted folders."""
    return await _records(
        ctx, client.list_folders(scope="restricted", ownerId=args["id"]), "restricted"
    )


async def _records(ctx: BackupContext, folders: Any, listed_as: str) -> JobResult:
    """A folder's scope is the one it was listed under, unless its record names one (the
    older spec's shape); its owner is `ownerId` (official) or `owner.id` (older)."""
    result = JobResult()
    async for folder in folders:
        if not ctx.scope(folder.path):
            continue
        raw = {**folder.dump(), "scope": folder.scope or listed_as}
        entry = await ctx.entry("folder", folder.path, raw, source_id=folder.id)
        if not folder.owner_ref:
            entry.warnings.append("no ownerId or owner.id in the folder record")
        result.entries.append(entry)
        result.children.append(PERMISSIONS_JOB.job(folder.id, folder.path))
    return result


async def read_permissions(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    async def permits() -> list[dict[str, Any]]:
        return [p.dump() for p in await client.folder_permits(args["id"])]

    return await ctx.refusable("folder_permissions", args, permits)


# ---------------------------------------------------------------------- snapshot view


def load(r: SnapshotReader, view: View) -> None:
    for o in r.entries("folder"):
        raw = r.blob(o) or {}
        view.folders[o.key] = SourceFolder(
            path=o.key,
            name=raw.get("name") or o.key.rsplit("/", 1)[-1],
            scope=raw.get("scope"),
            owner=r.user(Folder.model_validate(raw).owner_ref),
            grants=_grants(r, r.blob_of("folder_permissions", o.key) or []),
        )


def _grants(r: SnapshotReader, permits: list[dict[str, Any]]) -> list[Grant]:
    grants = []
    for p in permits:
        principal = r.principal("user", p["userId"]) if p.get("userId") else (
            r.principal("group", p.get("userGroupId") or "")
        )  # fmt: skip
        if principal:
            grants.append(
                Grant(principal=principal, role=p["role"], access_boost=bool(p.get("accessBoost")))
            )
    return by_principal(grants)


# ---------------------------------------------------------------------- inventory


async def read_target(client: OmniClient, inv: Target) -> None:
    async for folder in client.list_folders(scope="organization"):
        inv.folders[folder.path] = _target(folder, "organization")


async def read_target_of_user(client: OmniClient, inv: Target, user_id: str) -> None:
    """One user's restricted folders: they come only from a walk per owner."""
    async for folder in client.list_folders(scope="restricted", ownerId=user_id):
        inv.folders[folder.path] = _target(folder, "restricted")


def _target(folder: Folder, listed_as: str) -> TargetFolder:
    """A folder's scope is the one it was listed under (the official record has none)."""
    return TargetFolder(
        id=folder.id,
        path=folder.path,
        name=folder.name,
        scope=folder.scope or listed_as,
        owner_id=folder.owner_ref,
    )


# ---------------------------------------------------------------------- plan


def selected(ctx: PlanContext[View, Target]) -> list[str]:
    """The folders this restore writes: with a filter, those its --include globs name and
    those the selected documents are in (`Handler.references`), with their parents."""
    if not ctx.filtered:
        return sorted(ctx.view.folders)
    paths = {p for p in ctx.view.folders if folder_action_id(p) in ctx.referenced}
    globs = tuple(p for p in ctx.opt.include if ":" not in p)
    if globs:
        paths |= {a for f in ctx.view.folders if PathFilter(include=globs)(f) for a in ancestors(f)}
    return sorted(p for p in paths if p in ctx.view.folders)


def references(ctx: PlanContext[View, Target]) -> Iterable[str]:
    """Who the selected folders grant access to."""
    if not ctx.filtered:
        return ()
    folders = ctx.view.folders
    return principal_ids(g.principal for p in ctx.once(selected) for g in folders[p].grants)


def plan(ctx: PlanContext[View, Target]) -> None:
    """Each folder with its scope and owner, which Omni takes only at create (G7)."""
    actions = {path: _create_action(ctx, path) for path in ctx.once(selected)}
    made = {p: m for p, a in actions.items() if (m := made_by_interrupted_run(ctx, a))}
    adopter = {target_id: path for path, target_id in made.items()}
    for path, action in actions.items():
        folder = ctx.view.folders[path]
        holder = ctx.inv.folders.get(path)
        # the folder at this path is one an interrupted run made for another path: its
        # adoption forces it away, and this one is made once the path is free
        moving = adopter.get(holder.id) if holder else None
        if moving == path:
            moving = None
        owner_ok = action.params["owner"] is not None
        if path in made:
            ctx.add(
                adopted(action.model_copy(update={"params": {**action.params, "made": made[path]}}))
            )
        elif holder and moving is None:
            ctx.mark(action, "skip", "exists on the target")
        elif folder.scope is None:
            ctx.mark(action, "blocked", "the snapshot does not say this folder's scope")
        elif folder.scope == "restricted" and not owner_ok:
            ctx.mark(action, "blocked", f"its owner {folder.owner} is not on the target")
        else:
            owner = [Principal(kind="user", key=folder.owner)] if owner_ok else []
            after = [folder_action_id(moving)] if moving else []
            created = ctx.decide(action, [*identity_deps(ctx, owner), *after], absent=True)
            if not owner_ok and created.writes:  # made, but owned by the restoring key
                ctx.add(Action(id=action_id("folder", path, "owner"), kind="folder.owner",
                               object=path, op="blocked", depends_on=[created.id],
                               reason=f"its owner {folder.owner} is not on the target: "
                               "the restoring key's user owns it"))  # fmt: skip
        plan_grants(
            ctx, action_id("folder", path, "permissions"), "folder.permissions", path,
            {"path": path}, folder.grants, [action.id], of=action.id,
        )  # fmt: skip


def _create_action(ctx: PlanContext[View, Target], path: str) -> Action:
    folder = ctx.view.folders[path]
    parent = path.rpartition("/")[0] or None
    owner_ok = bool(folder.owner) and user_ok(ctx, folder.owner or "")
    return Action(
        id=folder_action_id(path), kind="folder.create", object=path, op="create",
        depends_on=[folder_action_id(parent)] if parent else [],
        params={"path": path, "name": folder.name, "parent": parent, "scope": folder.scope,
                "owner": folder.owner if owner_ok else None}, parent=parent,
    )  # fmt: skip


def made_by_interrupted_run(ctx: PlanContext[View, Target], action: Action) -> str | None:
    """The target folder an interrupted run of this restore made for `action`: the one its
    intent recorded, else the one at the path (its create's answer was lost), else a folder
    under the same parent with the same name at a path where the snapshot holds no folder of
    that name (Omni derives a path from the name, G7, and the run died before forcing the
    right one: it may sit at a sibling's path)."""
    path = action.params["path"]
    at_path = ctx.inv.folders.get(path)
    rec = open_intent(ctx.ledger, action)
    if rec is None:
        return None
    by_id = {f.id: f for f in ctx.inv.folders.values()}
    if rec.target:
        return rec.target if rec.target in by_id else None
    named = at_path is not None and at_path.name == action.params["name"]
    if at_path and named and claim(ctx.ledger, action, True, at_path.id) == "ours":
        return at_path.id
    parent = action.params["parent"]
    strays = [
        f.id for p, f in sorted(ctx.inv.folders.items())
        if p.rpartition("/")[0] == (parent or "") and f.name == action.params["name"]
        and not _in_place(ctx, p, f)
    ]  # fmt: skip
    return strays[0] if len(strays) == 1 else None


def _in_place(ctx: PlanContext[View, Target], path: str, folder: TargetFolder) -> bool:
    """Whether a target folder is the snapshot's own folder at its own path (by its name):
    never a stray, whatever intent is open."""
    held = ctx.view.folders.get(path)
    return held is not None and held.name == folder.name


# ---------------------------------------------------------------------- apply


async def create_folder(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    p = a.params
    parent_id = ctx.ids.folders.get(p["parent"]) if p["parent"] else None
    if p["parent"] and parent_id is None:
        raise RestoreError(f"parent folder {p['parent']} is not on the target")
    owner = ctx.ids.user(p["owner"]) if p["owner"] else None
    created = await c.create_folder(
        p["name"], parent_id=parent_id, parent_path=p["parent"], scope=p["scope"], owner_id=owner
    )
    # ours before any await: a sibling forcing its path may find this one at it (force_path)
    ctx.ids.folders[p["path"]] = created.id
    await ctx.write(a.id, protocol.created(a, created.id))  # a kill from here on: adopted
    await finish_folder(ctx, c, a, created.id, created.path)


async def adopt_folder(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    """An interrupted run made it: it may still lack its path."""
    found = {f.id: f for f in part(ctx.inventory, Target).folders.values()}[a.params["made"]]
    await finish_folder(ctx, c, a, found.id, found.path)


async def finish_folder(
    ctx: ApplyContext, c: OmniClient, a: Action, folder_id: str, at: str
) -> None:
    ctx.ids.folders[a.params["path"]] = folder_id
    if at.strip("/") != a.params["path"]:  # Omni derives the path from the name (G7)
        await force_path(ctx, c, folder_id, a.params["path"])
    await ctx.record(a, "done", folder_id)


async def force_path(ctx: ApplyContext, c: OmniClient, folder_id: str, path: str) -> None:
    """Give a folder its source path. Siblings whose names slug alike ("Q4 Reviews",
    "Q4-Reviews") can each be created at the other's path: on 409 the holder, when it is a
    folder of this restore still waiting for its own path, steps aside to a temporary one
    first, and takes its right path when its own turn comes."""
    segment = path.rsplit("/", 1)[-1]
    async with ctx.renames:
        try:  # a 409 is an answer here, handled below: its request shows only at debug
            with structlog.contextvars.bound_contextvars(**{FOLDED: True}):
                await c.update_folder(folder_id, path=segment)
            return
        except ApiStatusError as err:
            if err.status != 409:
                raise
        holder = await _folder_at(c, path)
        ours = {fid: src for src, fid in ctx.ids.folders.items()}
        if holder is None or holder == folder_id or ours.get(holder, path) == path:
            raise RestoreError(
                f"folder path {path} is taken on the target by a folder this snapshot "
                "does not hold there: rename or move it, then run again"
            )
        await c.update_folder(holder, path=f"{segment}-omnimigrate-{holder[:8]}")
        await c.update_folder(folder_id, path=segment)


async def _folder_at(c: OmniClient, path: str) -> str | None:
    async for folder in c.list_folders(path=path):
        if folder.path.strip("/") == path:
            return folder.id
    return None


async def write_permissions(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    """Only the permits that differ from the target's (`permit_writes`; a folder this plan
    made has none to read)."""
    folder_id = ctx.ids.folders[a.params["path"]]
    held = [] if a.have.get("fresh") else await c.folder_permits(folder_id)
    have = {
        permit_key("user" if p.user_id else "group", p.user_id or p.user_group_id or ""):
        permit_role(p.role, p.access_boost)
        for p in held
    }  # fmt: skip
    writes = permit_writes(ctx.ids, a, have)
    for (role, boost), users, groups in ctx.by_role(writes.grants):
        await c.add_folder_permits(
            folder_id, role, user_ids=users, group_ids=groups, access_boost=boost
        )
    for (role, boost), users, groups in ctx.by_role(writes.changes):
        await c.update_folder_permits(
            folder_id, role, user_ids=users, group_ids=groups, access_boost=boost
        )
    if writes.users or writes.groups:
        await c.revoke_folder_permits(folder_id, user_ids=writes.users, group_ids=writes.groups)
    await ctx.record(a, "done")


# ---------------------------------------------------------------------- verify


async def verify(ctx: VerifyContext[View, Target]) -> None:
    """Every folder; with `--document`, the folder paths of those documents (what they
    reference)."""
    paths = set(ctx.view.folders)
    if not ctx.whole:
        paths = {p for p in paths if folder_action_id(p) in ctx.referenced}
        if not paths:
            return
    t = ctx.report("folders")

    async def one(path: str, c: OmniClient) -> None:
        folder = ctx.view.folders[path]
        t.checked += 1
        target = ctx.inv.folders.get(path)
        if target is None:
            return t.missing(path)
        permits = ctx.names.grant_set(p.dump() for p in await c.folder_permits(target.id))
        want = {"name": folder.name, "scope": folder.scope, "owner": folder.owner,
                "permissions": grant_keys(folder.grants)}  # fmt: skip
        have = {"name": target.name, "scope": target.scope,
                "owner": ctx.names.users.get(target.owner_id or ""), "permissions": permits}  # fmt: skip
        t.check_all(path, want, have)

    await ctx.reads.each(sorted(paths), one)


class View(BaseModel):
    """This type's part of the snapshot view (`registry.SnapshotView`)."""

    folders: dict[str, SourceFolder] = Field(default_factory=dict)


class Target(BaseModel):
    """This type's part of the target inventory (`registry.TargetInventory`); `WRITTEN_BY`:
    the action-id kinds a restore writes each field's keys with."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"folders": "folder"}

    folders: dict[str, TargetFolder] = Field(default_factory=dict)


HANDLER = Handler(
    name="folders",
    view=View,
    target=Target,
    ids=("folder",),  # its action ids' kinds
    jobs={
        "folders": list_folders,
        "user_folders": list_user_folders,
        "folder_permissions": read_permissions,
    },
    roots=("folders",),
    content=("folder",),
    per_user=(JobTemplate("user_folders", LISTING),),
    load=load,
    read_target=(read_target,),
    read_target_per_user=read_target_of_user,
    references=references,
    plan=plan,
    actions={
        "folder.create": ActionKind(create_folder, adopt=adopt_folder, creates=True, remakes=True),
        "folder.permissions": ActionKind(write_permissions, requests=permit_calls),
    },
    verify=verify,
)
