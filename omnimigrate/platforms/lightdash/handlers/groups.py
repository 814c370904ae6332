"""Users (by email) and groups (by name) with their members. Users are only read, to map
emails onto the target's uuids: Lightdash's API cannot invite them, so a user the target
lacks blocks what needs them. Groups are created with the members the target has; an
existing group only ever gains members."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import READ, Job, JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.planning import NO_INVITE
from omnimigrate.snapshot.manifest import ObjectEntry

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import SnapshotView, TargetState
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader


async def list_people(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    users, groups = await asyncio.gather(client.users(), client.groups())
    entries = [ObjectEntry(type="ld_user", key=u.email.lower(), source_id=u.uuid) for u in users]
    children = [
        Job(kind="ld_group", args={"id": g.uuid, "key": g.name}, priority=READ) for g in groups
    ]
    return JobResult(entries=entries, children=children)


async def read_group(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    members = sorted(m.email.lower() for m in await client.group_members(args["id"]))
    entry = await ctx.entry("ld_group", args["key"], {"members": members}, source_id=args["id"])
    return JobResult(entries=[entry])


def load(r: SnapshotReader, view: SnapshotView) -> None:
    view.users = sorted(o.key for o in r.entries("ld_user"))
    for o in r.entries("ld_group"):
        r.group_names[o.source_id or ""] = o.key
        view.groups[o.key] = (r.blob(o) or {}).get("members", [])


async def read(t: TargetReader) -> None:
    users, groups = await asyncio.gather(t.client.users(), t.client.groups())
    t.state.ids.users = {u.email.lower(): u.uuid for u in users}
    t.state.ids.groups = {g.name: g.uuid for g in groups}
    # members only of the groups the snapshot has: a target's other groups cost a request each
    wanted = [g for g in groups if g.name in t.view.groups]
    members = await asyncio.gather(*(t.next_client().group_members(g.uuid) for g in wanted))
    t.state.groups = {
        g.name: sorted(m.email.lower() for m in ms) for g, ms in zip(wanted, members, strict=True)
    }


def plan(ctx: PlanContext) -> None:
    for name, members in sorted(ctx.view.groups.items()):
        present = [e for e in members if ctx.user_ok(e)]
        for email in sorted(set(members) - set(present)):
            ctx.blocked(action_id("ld.group.member", name, email), "ld.group.member",
                        f"{name} -> {email}", f"user {email} is not on the target: {NO_INVITE}")  # fmt: skip
        action = Action(id=action_id("ld.group", name), kind="ld.group", object=name,
                        op="create", params={"name": name, "members": present})  # fmt: skip
        if name not in ctx.inv.ids.groups:
            ctx.compare(action, None, "")
            continue
        # members are only ever added (never removed), so adding the missing ones is safe
        missing = sorted(set(present) - set(ctx.inv.groups.get(name, [])))
        update = action.model_copy(
            update={"kind": "ld.group.members", "params": {"name": name, "add": missing}}
        )
        if missing:
            ctx.mark(update, "update", f"adds {len(missing)} member(s)")
        else:
            ctx.mark(update, "skip", "the same members on the target")


async def create(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    members = [ctx.user(e) for e in a.params["members"]]
    uuid = await client.create_group(a.params["name"], members)
    ctx.ids.groups[a.params["name"]] = uuid
    await ctx.done(a, uuid)


async def add_members(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    group = ctx.group(a.params["name"])
    for email in a.params["add"]:
        await client.add_group_member(group, ctx.user(email))
    await ctx.done(a)


def org_rows(side: SnapshotView | TargetState) -> dict[str, Any]:
    return {name: {"members": sorted(m)} for name, m in side.groups.items()}


HANDLER = Handler(
    name="groups",
    ids=("ld.group", "ld.group.member"),  # its action ids' kinds
    jobs={"ld_people": list_people, "ld_group": read_group},
    roots=("ld_people",),
    load=load,
    read=read,
    plan=plan,
    actions={"ld.group": ActionKind(create), "ld.group.members": ActionKind(add_members)},
    org_rows=org_rows,
    org_wide=True,
)
