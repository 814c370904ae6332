"""A project's access: users' roles (by email) and groups' roles (by name). A role that
differs on the target is a conflict unless overwritten; the target's other members stay."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.handlers import groups as people
from omnimigrate.platforms.lightdash.natural_keys import projects

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader


class Access(BaseModel):
    """Its part of a project, on both sides."""

    users: dict[str, str] = Field(default_factory=dict)  # email -> project role
    groups: dict[str, str] = Field(default_factory=dict)  # group name -> project role


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"access": "ld.access"}

    access: dict[str, str] = Field(default_factory=dict)  # "<project>:user:<email>" -> role


async def read_access(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    users, groups = await asyncio.gather(
        client.project_access(args["project"]), client.group_accesses(args["project"])
    )
    body = {
        "users": {m.email.lower(): m.role for m in users},
        "groups": {a.group: a.role for a in groups},  # uuids: named on load
    }
    return JobResult(entries=[await ctx.entry("ld_access", args["name"], body)])


def load(r: SnapshotReader, view: ViewBase) -> None:
    for o in r.entries("ld_access"):
        body, mine = r.blob(o), part(view.projects[o.key], Access)
        mine.users = dict(body["users"])
        mine.groups = people.named(r, body["groups"])


async def read(t: TargetReader) -> None:
    users, groups = await asyncio.gather(
        t.client.project_access(t.uuid), t.client.group_accesses(t.uuid)
    )
    names = {v: k for k, v in part(t.state.ids, people.Ids).groups.items()}
    mine = part(t.target, Access)
    mine.users = {m.email.lower(): m.role for m in users}
    mine.groups = {names.get(a.group, a.group): a.role for a in groups}


def inventory(state: StateBase, inv: InventoryBase) -> None:
    mine = part(inv, Target)
    for name, p in projects(state, Access).items():
        mine.access |= {f"{name}:user:{e}": r for e, r in p.users.items()}
        mine.access |= {f"{name}:group:{g}": r for g, r in p.groups.items()}


def plan(ctx: PlanContext[Any, Target]) -> None:
    for project in ctx.projects:
        src = ctx.source(project, Access)
        for email, role in sorted(src.users.items()):
            id_ = action_id("ld.access", project, "user", email)
            what = f"{project} <- {email}"
            if not people.user_ok(ctx, email):
                ctx.blocked(id_, "ld.access.user", what,
                            f"user {email} is not on the target: {people.NO_INVITE}")  # fmt: skip
                continue
            action = Action(id=id_, kind="ld.access.user", object=what, op="create",
                            params={"project": project, "email": email, "role": role})  # fmt: skip
            ctx.compare(action, ctx.inv.access.get(f"{project}:user:{email}"), role)
        for group, role in sorted(src.groups.items()):
            action = Action(id=action_id("ld.access", project, "group", group), kind="ld.access.group",
                            object=f"{project} <- {group}", op="create",
                            params={"project": project, "group": group, "role": role})  # fmt: skip
            if people.group_missing(ctx, group, action.id, action.kind, action.object):
                continue
            ctx.compare(action, ctx.inv.access.get(f"{project}:group:{group}"), role,
                       [action_id("ld.group", group)])  # fmt: skip


async def grant_user(ctx: ApplyContext[Any], client: LightdashClient, a: Action) -> None:
    project, email, role = ctx.project(a.params["project"]), a.params["email"], a.params["role"]
    if a.op == "update":
        await client.update_project_access(project, people.user(ctx, email), role)
    else:
        await client.grant_project_access(project, email, role)
    await ctx.done(a)


async def grant_group(ctx: ApplyContext[Any], client: LightdashClient, a: Action) -> None:
    project = ctx.project(a.params["project"])
    await client.grant_group_access(
        people.group(ctx, a.params["group"]), project, a.params["role"], update=a.op == "update"
    )
    await ctx.done(a)


def rows(name: str, project: Access) -> dict[str, Any]:
    return {f"{name}:user:{e}": {"role": r} for e, r in project.users.items()} | {
        f"{name}:group:{g}": {"role": r} for g, r in project.groups.items()
    }


HANDLER = Handler(
    name="project access",
    project=Access,
    target=Target,
    ids=("ld.access",),  # its action ids' kinds
    jobs={"ld_access": read_access},
    per_project=("ld_access",),
    load=load,
    read=read,
    inventory=inventory,
    plan=plan,
    # a selection takes it only as what it needs
    actions={
        "ld.access.user": ActionKind(grant_user, selected=False),
        "ld.access.group": ActionKind(grant_group, selected=False),
    },
    rows=rows,
)
