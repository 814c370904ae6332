"""A project's access: users' roles (by email) and groups' roles (by name). A role that
differs on the target is a conflict unless overwritten; the target's other members stay."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.planning import NO_INVITE

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import Project, SnapshotView
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader


async def read_access(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    users, groups = await asyncio.gather(
        client.project_access(args["project"]), client.group_accesses(args["project"])
    )
    body = {
        "users": {m.email.lower(): m.role for m in users},
        "groups": {a.group: a.role for a in groups},  # uuids: named on load
    }
    return JobResult(entries=[await ctx.entry("ld_access", args["name"], body)])


def load(r: SnapshotReader, view: SnapshotView) -> None:
    for o in r.entries("ld_access"):
        body = r.blob(o)
        view.projects[o.key].users = dict(body["users"])
        view.projects[o.key].groups = r.named_groups(body["groups"])


async def read(t: TargetReader) -> None:
    users, groups = await asyncio.gather(
        t.client.project_access(t.uuid), t.client.group_accesses(t.uuid)
    )
    names = {v: k for k, v in t.state.ids.groups.items()}
    t.target.users = {m.email.lower(): m.role for m in users}
    t.target.groups = {names.get(a.group, a.group): a.role for a in groups}


def plan(ctx: PlanContext) -> None:
    for project in sorted(ctx.inv.ids.projects):
        src = ctx.view.projects[project]
        for email, role in sorted(src.users.items()):
            id_ = action_id("ld.access", project, "user", email)
            what = f"{project} <- {email}"
            if not ctx.user_ok(email):
                ctx.blocked(
                    id_, "ld.access.user", what, f"user {email} is not on the target: {NO_INVITE}"
                )
                continue
            action = Action(id=id_, kind="ld.access.user", object=what, op="create",
                            params={"project": project, "email": email, "role": role})  # fmt: skip
            ctx.compare(action, ctx.inv.access.get(f"{project}:user:{email}"), role)
        for group, role in sorted(src.groups.items()):
            action = Action(id=action_id("ld.access", project, "group", group), kind="ld.access.group",
                            object=f"{project} <- {group}", op="create",
                            params={"project": project, "group": group, "role": role})  # fmt: skip
            if ctx.group_missing(group, action.id, action.kind, action.object):
                continue
            ctx.compare(action, ctx.inv.access.get(f"{project}:group:{group}"), role,
                       [action_id("ld.group", group)])  # fmt: skip


async def grant_user(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    project, email, role = ctx.project(a.params["project"]), a.params["email"], a.params["role"]
    if a.op == "update":
        await client.update_project_access(project, ctx.user(email), role)
    else:
        await client.grant_project_access(project, email, role)
    await ctx.done(a)


async def grant_group(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    project = ctx.project(a.params["project"])
    await client.grant_group_access(
        ctx.group(a.params["group"]), project, a.params["role"], update=a.op == "update"
    )
    await ctx.done(a)


def rows(name: str, project: Project) -> dict[str, Any]:
    return {f"{name}:user:{e}": {"role": r} for e, r in project.users.items()} | {
        f"{name}:group:{g}": {"role": r} for g, r in project.groups.items()
    }


HANDLER = Handler(
    name="project access",
    ids=("ld.access",),  # its action ids' kinds
    jobs={"ld_access": read_access},
    per_project=("ld_access",),
    load=load,
    read=read,
    plan=plan,
    actions={"ld.access.user": ActionKind(grant_user), "ld.access.group": ActionKind(grant_group)},
    rows=rows,
)
