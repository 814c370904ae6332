"""User attributes (the values row-level filters in the dbt models read): each definition by
name, with its description and defaults, and its values for users (by email) and groups (by
name). Restored after groups and before project access and content, so no content is ever
shown with an attribute missing. 0.1471 holds one value (`value`, `attributeDefault`), 1.219
lists (`values`, `attributeDefaults`): both are read as lists. A user or group the target
lacks blocks that value, named; the definition goes with the rest of its values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import ISPRIVATE
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.natural_keys import Attribute, digest
from omnimigrate.platforms.lightdash.planning import NO_INVITE

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import AttributeRef, LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import SnapshotView, TargetState
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader


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


def load(r: SnapshotReader, view: SnapshotView) -> None:
    from omnimigrate.platforms.lightdash.client import AttributeRef

    for o in r.entries("ld_attribute"):
        view.attributes[o.key] = attribute_of(AttributeRef.model_validate(r.blob(o)), r.group_names)


async def read(t: TargetReader) -> None:
    names = {uuid: name for name, uuid in t.state.ids.groups.items()}
    for a in await t.client.attributes():
        t.state.attributes[a.name] = attribute_of(a, names)
        t.state.ids.attributes[a.name] = a.uuid


def plan(ctx: PlanContext) -> None:
    for name, attr in sorted(ctx.view.attributes.items()):
        users = {e: v for e, v in attr.users.items() if ctx.user_ok(e)}
        for email in sorted(set(attr.users) - set(users)):
            ctx.blocked(action_id("ld.attribute.value", name, email), "ld.attribute.value",
                        f"{name} <- {email}", f"user {email} is not on the target: {NO_INVITE}")  # fmt: skip
        groups = {
            g: v for g, v in attr.groups.items() if g in ctx.inv.ids.groups or g in ctx.view.groups
        }
        for group in sorted(set(attr.groups) - set(groups)):
            ctx.blocked(action_id("ld.attribute.value", name, group), "ld.attribute.value",
                        f"{name} <- {group}", f"group {group} is not on the target nor in the snapshot")  # fmt: skip
        want = attr.model_copy(update={"users": users, "groups": groups})
        several = [v for v in (attr.defaults, *users.values(), *groups.values()) if len(v) > 1]
        lossy = bool(several) and ctx.inv.space_model == ISPRIVATE
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


async def write(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    attr = Attribute.model_validate(a.params)
    users = {ctx.user(e): v for e, v in attr.users.items()}
    groups = {ctx.group(g): v for g, v in attr.groups.items()}
    existing = ctx.ids.attributes.get(attr.name)
    if a.op == "update" and existing:
        await client.update_attribute(existing, attr, users, groups)
    else:
        existing = await client.create_attribute(attr, users, groups)
        ctx.ids.attributes[attr.name] = existing
    await ctx.done(a, existing)


def org_rows(side: SnapshotView | TargetState) -> dict[str, Any]:
    return {name: a.model_dump(exclude={"name"}) for name, a in side.attributes.items()}


HANDLER = Handler(
    name="user attributes",
    ids=("ld.attribute", "ld.attribute.value"),  # its action ids' kinds
    jobs={"ld_attributes": list_attributes},
    roots=("ld_attributes",),
    load=load,
    read=read,
    plan=plan,
    actions={"ld.attribute": ActionKind(write)},
    org_rows=org_rows,
    org_wide=True,
)
