"""Users (SCIM, by email), groups (SCIM, by name) and email-only users (schedule recipients).

Restore creates users and groups only when asked (`--create-missing-*`): owners, grants and
recipients name them, so they come first. Email-only users are upserted when a schedule
being restored sends to them (planned by `schedules`). Verify has no row of its own: every
type that names a person compares it by email.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id, step_of
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.errors import ApiStatusError
from omnimigrate.http.retry import permanent
from omnimigrate.platforms.omni.handler import ActionKind, Handler
from omnimigrate.platforms.omni.principals import Grant, Principal

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader


class SourceUser(BaseModel):
    email: str
    display_name: str | None = None
    email_only: bool = False


class SourceGroup(BaseModel):
    name: str
    members: list[str] = Field(default_factory=list)  # emails


# ---------------------------------------------------------------------- backup


async def list_users(ctx: BackupContext, client: OmniClient, args: Mapping[str, str]) -> JobResult:
    """Each user, and every handler's walk for that user (restricted content, roles, ...)."""
    result = JobResult()
    async for user in client.list_users():
        email = user.user_name.lower()
        result.entries.append(await ctx.entry("user", email, user.dump(), source_id=user.id))
        result.children += [job.job(user.id, email) for job in ctx.per_user]
    return result


async def list_groups(ctx: BackupContext, client: OmniClient, args: Mapping[str, str]) -> JobResult:
    result = JobResult()
    async for group in client.list_groups():
        name = group.display_name
        result.entries.append(await ctx.entry("group", name, group.dump(), source_id=group.id))
        result.children += [job.job(group.id, name) for job in ctx.per_group]
    return result


async def list_email_only_users(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    """Optional: a refusal (an admin-only list) makes the snapshot partial, not failed."""
    try:
        return JobResult(
            entries=[
                await ctx.entry("email_only_user", u.email.lower(), u.dump(), source_id=u.user_id)
                async for u in client.list_email_only_users()
            ]
        )
    except ApiStatusError as err:
        if not permanent(err):
            raise
        return JobResult(lost=[f"email-only users not readable ({err.status}): {err.detail}"])


# ---------------------------------------------------------------------- snapshot view


def load(r: SnapshotReader, view: View) -> None:
    for o in r.entries("user"):
        raw = r.blob(o) or {}
        view.users[o.key] = SourceUser(email=o.key, display_name=raw.get("displayName"))
    for o in r.entries("email_only_user"):
        view.users.setdefault(o.key, SourceUser(email=o.key, email_only=True))
    for o in r.entries("group"):
        raw = r.blob(o) or {}
        members = [r.user(m.get("value")) for m in raw.get("members", [])]
        view.groups[o.key] = SourceGroup(name=o.key, members=sorted(filter(None, members)))


# ---------------------------------------------------------------------- inventory


async def read_people(client: OmniClient, inv: Target) -> None:
    async for user in client.list_users():
        inv.users[user.user_name.lower()] = user.id
    async for eo in client.list_email_only_users():
        inv.email_only[eo.email.lower()] = eo.user_id


async def read_groups(client: OmniClient, inv: Target) -> None:
    async for group in client.list_groups():
        inv.groups[group.display_name] = group.id


# ---------------------------------------------------------------------- plan


def plan(ctx: PlanContext[View, Target]) -> None:
    """Users and groups the target lacks, when asked; with a filter, only those the selected
    objects name (`Handler.references`)."""
    for email, user in sorted(ctx.view.users.items()):
        if email in ctx.inv.users or user.email_only:
            continue  # email-only users are upserted when a schedule needs them
        wanted = not ctx.filtered or action_id("user", email) in ctx.referenced
        if ctx.opt.create_missing_users and wanted:
            ctx.decide(
                Action(id=action_id("user", email), kind="user.create", object=email, op="create",
                       params={"email": email, "display_name": user.display_name or email}),
                absent=True,
            )  # fmt: skip
    for name, group in sorted(ctx.view.groups.items()):
        if name in ctx.inv.groups:
            continue
        wanted = not ctx.filtered or action_id("group", name) in ctx.referenced
        if ctx.opt.create_missing_groups and wanted:
            members = [m for m in group.members if user_ok(ctx, m)]
            ctx.decide(
                Action(id=action_id("group", name), kind="group.create", object=name, op="create",
                       params={"name": name, "members": members}),
                [action_id("user", m) for m in members],
                absent=True,
            )  # fmt: skip


def user_ok(ctx: PlanContext, email: str) -> bool:
    """Whether the target has the user, or this plan creates it."""
    return email in part(ctx.inv, Target).users or action_id("user", email) in ctx.actions


def group_ok(ctx: PlanContext, name: str) -> bool:
    return name in part(ctx.inv, Target).groups or action_id("group", name) in ctx.actions


def principal_ok(ctx: PlanContext, p: Principal) -> bool:
    return user_ok(ctx, p.key) if p.kind == "user" else group_ok(ctx, p.key)


def missing_reason(p: Principal) -> str:
    flag = "--create-missing-users" if p.kind == "user" else "--create-missing-groups"
    return f"{p.kind} {p.key} is not on the target (create it there, or use {flag})"


def identity_deps(ctx: PlanContext, principals: Iterable[Principal]) -> list[str]:
    """The creates of those principals this plan makes: a write naming them waits for them."""
    ids = (action_id(p.kind, p.key) for p in principals)
    return [i for i in ids if i in ctx.actions]


def principal_ids(principals: Iterable[Principal]) -> set[str]:
    """Action ids of the principals (`user:EMAIL`, `group:NAME`): what an object names."""
    return {action_id(p.kind, p.key) for p in principals}


def plan_grants(
    ctx: PlanContext,
    id_: str,
    kind: str,
    key: str,
    params: dict[str, Any],
    grants: list[Grant],
    parents: list[str],
    *,
    of: str,
) -> None:
    """Direct grants on a folder or document: one action for the principals the target has,
    and a blocked action for each one it lacks. The action writes a diff of the target's
    permits (`principals.permit_writes`), removing others only from an object this restore
    makes or made (`of`: its create), or overwrites; one this plan makes (`fresh`) has none
    yet, and they are not read."""
    ok = []
    for g in grants:
        if principal_ok(ctx, g.principal):
            ok.append(g.model_dump())
        else:
            ctx.add(Action(id=step_of(id_, g.principal.kind, g.principal.key), kind="grant",
                           object=f"{key} -> {g.principal.key}", op="blocked",
                           reason=missing_reason(g.principal)))  # fmt: skip
    remove = ctx.opt.on_conflict == "overwrite" or ctx.restores(of)
    # none left in the snapshot: the ones an earlier run wrote go
    if ok or (remove and id_ in ctx.ledger):
        made = ctx.actions.get(of)
        fresh = made is not None and made.writes and made.kind in ctx.remade
        action = Action(
            id=id_,
            kind=kind,
            object=key,
            op="create",
            params={**params, "grants": ok},
            have={"remove": remove, "fresh": fresh},
        )
        ctx.decide(action, [*parents, *identity_deps(ctx, (g.principal for g in grants))])


def plan_email_only(ctx: PlanContext, email: str) -> str:
    """An email-only recipient the target lacks: upserted once, whichever schedule asks."""
    upsert = Action(id=action_id("email_only", email), kind="email_only.upsert", object=email,
                    op="create", params={"email": email})  # fmt: skip
    if upsert.id not in ctx.actions:
        ctx.decide(upsert, absent=True)
    return upsert.id


# ---------------------------------------------------------------------- apply


async def create_user(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    user = await c.create_user(a.params["email"], a.params["display_name"])
    ctx.ids.users[a.params["email"]] = user.id
    await ctx.record(a, "done", user.id)


async def create_group(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    members = [ctx.ids.user(m) for m in a.params["members"]]
    group = await c.create_group(a.params["name"], members)
    ctx.ids.groups[a.params["name"]] = group.id
    await ctx.record(a, "done", group.id)


async def upsert_email_only(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    (created,) = await c.upsert_email_only_users([a.params["email"]])
    ctx.ids.users.setdefault(a.params["email"], created.user_id)
    await ctx.record(a, "done", created.user_id)


class View(BaseModel):
    """This type's part of the snapshot view (`registry.SnapshotView`)."""

    users: dict[str, SourceUser] = Field(default_factory=dict)
    groups: dict[str, SourceGroup] = Field(default_factory=dict)


class Target(BaseModel):
    """This type's part of the target inventory (`registry.TargetInventory`); `WRITTEN_BY`:
    the action-id kinds a restore writes each field's keys with."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "users": "user", "groups": "group", "email_only": "email_only",
    }  # fmt: skip

    users: dict[str, str] = Field(default_factory=dict)  # email -> id
    email_only: dict[str, str] = Field(default_factory=dict)  # email -> id
    groups: dict[str, str] = Field(default_factory=dict)  # name -> id


HANDLER = Handler(
    name="identities",
    view=View,
    target=Target,
    ids=("user", "group", "email_only"),  # its action ids' kinds
    jobs={
        "users": list_users,
        "groups": list_groups,
        "email_only_users": list_email_only_users,
    },
    roots=("users", "groups", "email_only_users"),
    load=load,
    read_target=(read_people, read_groups),
    plan=plan,
    actions={
        "user.create": ActionKind(create_user, creates=True),
        "group.create": ActionKind(create_group, creates=True),
        "email_only.upsert": ActionKind(upsert_email_only),
    },
)
