"""User attributes (the values row-level filters in the dbt models read): each definition by
name, with its description and defaults, and its values for users (by email) and groups (by
name). Restored after groups and before project access and content, so no content is ever
shown with an attribute missing. 0.1471 holds one value (`value`, `attributeDefault`), 1.219
lists (`values`, `attributeDefaults`): both are read as lists. A user or group the target
lacks blocks that value, named; the definition goes with the rest of its values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import ISPRIVATE, AttributeRef
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.handlers import groups as people
from omnimigrate.platforms.lightdash.natural_keys import digest

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader


class Attribute(BaseModel):
    """A user attribute, values as lists (1.219's; 0.1471's single value is a list of one)."""

    name: str
    description: str = ""
    defaults: list[str] = Field(default_factory=list)
    users: dict[str, list[str]] = Field(default_factory=dict)  # email -> values
    groups: dict[str, list[str]] = Field(default_factory=dict)  # group name -> values


class Org(BaseModel):
    """Its part of both sides' organization."""

    attributes: dict[str, Attribute] = Field(default_factory=dict)  # by name


class Ids(BaseModel):
    attributes: dict[str, str] = Field(default_factory=dict)  # name -> uuid


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"attributes": "ld.attribute"}

    attributes: dict[str, str] = Field(default_factory=dict)  # name -> digest of it


async def list_attributes(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    entries = [
        await ctx.entry("ld_attribute", a.name, a.model_dump(), source_id=a.uuid)
        for a in await client.attributes()
    ]
    return JobResult(entries=entries)


def attribute_of(a: AttributeRef, groups: dict[str, str]) -> Attribute:
    """`groups`: uuid -> name (a group not listed keeps its uuid, `uuid:…`)."""
    return Attribute(
        name=a.name,
        description=a.description or "",
        defaults=a.defaults,
        users={u.email.lower(): u.values for u in a.users},
        groups={groups.get(g.group, f"uuid:{g.group}"): g.values for g in a.groups},
    )


def load(r: SnapshotReader, view: ViewBase) -> None:
    mine = part(view, Org)
    for o in r.entries("ld_attribute"):
        mine.attributes[o.key] = attribute_of(
            AttributeRef.model_validate(r.blob(o)), r.resolved(people.NAMES)
        )


async def read(t: TargetReader) -> None:
    names = {uuid: name for name, uuid in part(t.state.ids, people.Ids).groups.items()}
    mine, ids = part(t.state, Org), part(t.state.ids, Ids)
    for a in await t.client.attributes():
        mine.attributes[a.name] = attribute_of(a, names)
        ids.attributes[a.name] = a.uuid


def inventory(state: StateBase, inv: InventoryBase) -> None:
    part(inv, Target).attributes = {
        n: digest(a.model_dump()) for n, a in part(state, Org).attributes.items()
    }


def plan(ctx: PlanContext[Org, Target]) -> None:
    known = {*ctx.ids(people.Ids).groups, *part(ctx.view, people.View).groups}
    for name, attr in sorted(ctx.view.attributes.items()):
        users = {e: v for e, v in attr.users.items() if people.user_ok(ctx, e)}
        for email in sorted(set(attr.users) - set(users)):
            ctx.blocked(action_id("ld.attribute.value", name, email), "ld.attribute.value",
                        f"{name} <- {email}", f"user {email} is not on the target: {people.NO_INVITE}")  # fmt: skip
        groups = {g: v for g, v in attr.groups.items() if g in known}
        for group in sorted(set(attr.groups) - set(groups)):
            ctx.blocked(action_id("ld.attribute.value", name, group), "ld.attribute.value",
                        f"{name} <- {group}", f"group {group} is not on the target nor in the snapshot")  # fmt: skip
        want = attr.model_copy(update={"users": users, "groups": groups})
        several = [v for v in (attr.defaults, *users.values(), *groups.values()) if len(v) > 1]
        lossy = bool(several) and ctx.old
        if lossy:
            want = first_values(want)  # what the target holds after, so a re-run converges
        action = Action(id=action_id("ld.attribute", name), kind="ld.attribute", object=name,
                        op="create", params=want.model_dump())  # fmt: skip
        decided = ctx.compare(action, ctx.inv.attributes.get(name), digest(want.model_dump()),
                             [action_id("ld.group", g) for g in groups])  # fmt: skip
        if lossy and decided.writes:  # restored, less what 0.1471 cannot hold: named
            ctx.add(decided.model_copy(update={"warning": (
                f"{len(several)} of its value lists hold more than one value (1.219's), which "
                "the target's 0.1471 cannot: the first of each is restored")}))  # fmt: skip


def first_values(attr: Attribute) -> Attribute:
    """An attribute as 0.1471 holds it: one value where 1.219 lists several."""
    return attr.model_copy(update={
        "defaults": attr.defaults[:1],
        "users": {e: v[:1] for e, v in attr.users.items()},
        "groups": {g: v[:1] for g, v in attr.groups.items()},
    })  # fmt: skip


def hold(view: ViewBase, target: StateBase) -> list[str]:
    """Into 0.1471, the first value of each list (what the plan restored)."""
    if target.space_model != ISPRIVATE:
        return []
    kept = part(view, Org).attributes
    several = sorted(n for n, a in kept.items()
                     if max(map(len, [a.defaults, *a.users.values(), *a.groups.values()]), default=0) > 1)  # fmt: skip
    for name in several:
        kept[name] = first_values(kept[name])
    if not several:
        return []
    return [f"user attributes {', '.join(several)}: the target (0.1471) holds one "
            "value each, so the first of each list is compared"]  # fmt: skip


async def write(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> None:
    attr = Attribute.model_validate(a.params)
    users = {people.user(ctx, e): v for e, v in attr.users.items()}
    groups = {people.group(ctx, g): v for g, v in attr.groups.items()}
    existing = ctx.ids.attributes.get(attr.name)
    if a.op == "update" and existing:
        await client.update_attribute(existing, attr, users, groups)
    else:
        existing = await client.create_attribute(attr, users, groups)
        ctx.ids.attributes[attr.name] = existing
    await ctx.done(a, existing)


def org_rows(side: Org) -> dict[str, Any]:
    return {name: a.model_dump(exclude={"name"}) for name, a in side.attributes.items()}


HANDLER = Handler(
    name="user attributes",
    view=Org,
    state=Org,
    uuids=Ids,
    target=Target,
    ids=("ld.attribute", "ld.attribute.value"),  # its action ids' kinds
    jobs={"ld_attributes": list_attributes},
    roots=("ld_attributes",),
    load=load,
    read=read,
    inventory=inventory,
    plan=plan,
    # a selection takes it only as what it needs (row filters read it)
    actions={"ld.attribute": ActionKind(write, selected=False)},
    hold=hold,
    org_rows=org_rows,
    org_wide=True,
)
