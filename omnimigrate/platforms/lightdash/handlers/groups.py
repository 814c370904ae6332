"""Users (by email) and groups (by name) with their members. Users are only read, to map
emails onto the target's uuids: Lightdash's API cannot invite them, so a user the target
lacks blocks what needs them. Groups are created with the members the target has; an
existing group only ever gains members.

What the types after it ask of people is here too: whether the target has a user
(`user_ok`), a grant to a group the snapshot could not list (`group_missing`), the target
uuid of a user or group (`user`, `group`), and the snapshot's group names by uuid
(`named`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.jobs import READ, Job, JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.snapshot.manifest import ObjectEntry

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

NO_INVITE = "Lightdash's API cannot invite users: invite them in Lightdash, then plan again"
NAMES = "group"  # what `SnapshotReader.resolved` keeps the groups' names under


class Org(BaseModel):
    """Its part of both sides' organization."""

    groups: dict[str, list[str]] = Field(default_factory=dict)  # name -> member emails


class View(Org):
    users: list[str] = Field(default_factory=list)  # emails, lower case


class Ids(BaseModel):
    users: dict[str, str] = Field(default_factory=dict)  # email -> uuid
    groups: dict[str, str] = Field(default_factory=dict)  # name -> uuid


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"groups": "ld.group"}

    groups: dict[str, list[str]] = Field(default_factory=dict)  # name -> member emails


# ---------------------------------------------------------------------- what others ask


def user_ok(ctx: PlanContext[Any, Any], email: str) -> bool:
    return email in ctx.ids(Ids).users


def group_missing(ctx: PlanContext[Any, Any], name: str, id_: str, kind: str, obj: str) -> bool:
    """A grant to a group the snapshot's group list lacks is blocked, named."""
    if name in part(ctx.view, View).groups or name in ctx.ids(Ids).groups:
        return False
    ctx.blocked(id_, kind, obj, f"group {name} is not in the snapshot's groups: the "
                "backup's token could not list it; back up with an organization admin's token")  # fmt: skip
    return True


def user(ctx: ApplyContext[Any], email: str) -> str:
    ids = part(ctx.ids, Ids)
    if email not in ids.users:
        raise RestoreError(f"user {email} is not on the target")
    return ids.users[email]


def group(ctx: ApplyContext[Any], name: str) -> str:
    ids = part(ctx.ids, Ids)
    if name not in ids.groups:
        raise RestoreError(f"group {name} is not on the target")
    return ids.groups[name]


def named(r: SnapshotReader, roles: dict[str, str]) -> dict[str, str]:
    """Roles by group uuid -> by group name; a group the snapshot's list lacks keeps its
    uuid (`uuid:…`), and the plan blocks what names it."""
    names = r.resolved(NAMES)
    return {names.get(g, f"uuid:{g}"): r for g, r in roles.items()}


# ---------------------------------------------------------------------- backup


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


def load(r: SnapshotReader, view: ViewBase) -> None:
    mine = part(view, View)
    mine.users = sorted(o.key for o in r.entries("ld_user"))
    for o in r.entries("ld_group"):
        r.resolved(NAMES)[o.source_id or ""] = o.key
        mine.groups[o.key] = (r.blob(o) or {}).get("members", [])


# ---------------------------------------------------------------------- target


async def read(t: TargetReader) -> None:
    users, groups = await asyncio.gather(t.client.users(), t.client.groups())
    ids = part(t.state.ids, Ids)
    ids.users = {u.email.lower(): u.uuid for u in users}
    ids.groups = {g.name: g.uuid for g in groups}
    # members only of the groups the snapshot has: a target's other groups cost a request each
    wanted = [g for g in groups if g.name in part(t.view, View).groups]
    members = await asyncio.gather(*(t.next_client().group_members(g.uuid) for g in wanted))
    part(t.state, Org).groups = {
        g.name: sorted(m.email.lower() for m in ms) for g, ms in zip(wanted, members, strict=True)
    }


def inventory(state: StateBase, inv: InventoryBase) -> None:
    part(inv, Target).groups = {n: sorted(m) for n, m in part(state, Org).groups.items()}


# ---------------------------------------------------------------------- plan and apply


def plan(ctx: PlanContext[View, Target]) -> None:
    for name, members in sorted(ctx.view.groups.items()):
        present = [e for e in members if user_ok(ctx, e)]
        for email in sorted(set(members) - set(present)):
            ctx.blocked(action_id("ld.group.member", name, email), "ld.group.member",
                        f"{name} -> {email}", f"user {email} is not on the target: {NO_INVITE}")  # fmt: skip
        action = Action(id=action_id("ld.group", name), kind="ld.group", object=name,
                        op="create", params={"name": name, "members": present})  # fmt: skip
        if name not in ctx.ids(Ids).groups:
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


async def create(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> None:
    members = [user(ctx, e) for e in a.params["members"]]
    uuid = await client.create_group(a.params["name"], members)
    ctx.ids.groups[a.params["name"]] = uuid
    await ctx.done(a, uuid)


async def add_members(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> None:
    found = group(ctx, a.params["name"])
    for email in a.params["add"]:
        await client.add_group_member(found, user(ctx, email))
    await ctx.done(a)


# ---------------------------------------------------------------------- verify


def org_rows(side: Org) -> dict[str, Any]:
    return {name: {"members": sorted(m)} for name, m in side.groups.items()}


HANDLER = Handler(
    name="groups",
    view=View,
    state=Org,
    uuids=Ids,
    target=Target,
    ids=("ld.group", "ld.group.member"),  # its action ids' kinds
    jobs={"ld_people": list_people, "ld_group": read_group},
    roots=("ld_people",),
    load=load,
    read=read,
    inventory=inventory,
    plan=plan,
    # people come with a selection only as what it needs
    actions={
        "ld.group": ActionKind(create, selected=False),
        "ld.group.members": ActionKind(add_members, selected=False),
    },
    org_rows=org_rows,
    org_wide=True,
)
