"""Spaces by their path of names (a slug is lossy: lightdash#20661), with the private flag,
users' direct access (by email) and groups' access (by name). Restored parents first, each
created with its flag and then given its access; content is uploaded into them afterwards
with `skipSpaceCreate`, so no upload ever makes a space without its access (#13368)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from omnimigrate.engine import protocol
from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.apply import RestoreBlocked
from omnimigrate.engine.jobs import READ, Job, JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.errors import ApiStatusError
from omnimigrate.platforms.lightdash.client import INHERIT, ISPRIVATE, SpaceDetail, SpaceShare
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.natural_keys import (
    Shares,
    Space,
    digest,
    project_of,
    space_digest,
    space_grants,
    space_key,
    space_path,
)
from omnimigrate.platforms.lightdash.planning import NO_INVITE

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import Project, SnapshotView
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader


async def list_spaces(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    listed = {s.uuid: s for s in await client.spaces(args["project"])}
    children = [
        Job(kind="ld_space", priority=READ,
            args={**args, "id": s.uuid, "path": json.dumps(space_path(s.uuid, listed))})
        for s in listed.values()
    ]  # fmt: skip
    return JobResult(children=children)


async def read_space(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    detail, shares = await asyncio.gather(
        client.space(args["project"], args["id"]), client.space_users(args["project"], args["id"])
    )
    path = json.loads(args["path"])  # a name may hold a "/"
    body = {
        "path": path,
        "slug": detail.code_slug,  # what the content's `spaceSlug` names it by
        "private": detail.restricted,  # isPrivate, or not inheritParentPermissions
        "model": detail.model,  # the source's permission model, for a cross-generation plan
        "users": {a.email.lower(): a.role for a in shares},
        "groups": {g.group: g.role for g in detail.groups},  # uuids: named on load
    }
    if detail.member_role:  # 1.219's role for every project member: 0.1471 has no equivalent
        body["projectMemberAccessRole"] = detail.member_role
    key = space_key(args["name"], path)
    entry = await ctx.entry(
        "ld_space", key, body, source_id=detail.uuid, refs={"project": args["name"]}
    )
    return JobResult(entries=[entry])


def load(r: SnapshotReader, view: SnapshotView) -> None:
    for o in r.entries("ld_space"):
        name, body = project_of(o), r.blob(o)
        space = Space(path=body["path"], private=body["private"], users=body["users"],
                      groups=r.named_groups(body["groups"]), model=body.get("model", ISPRIVATE),
                      member_role=body.get("projectMemberAccessRole"))  # fmt: skip
        view.projects[name].spaces["/".join(space.path)] = space
        r.space_paths.setdefault(name, {})[body["slug"]] = space.path


async def read_one(t: TargetReader, uuid: str) -> tuple[SpaceDetail, list[SpaceShare]]:
    client = t.next_client()
    detail, shares = await asyncio.gather(
        client.space(t.uuid, uuid), client.space_users(t.uuid, uuid)
    )
    return detail, shares


async def read(t: TargetReader) -> None:
    listed = {s.uuid: s for s in await t.client.spaces(t.uuid)}
    t.state.space_model = INHERIT if await t.client.modern() else ISPRIVATE
    # a target with no space cannot tell: its first create's answer does (`write_space`)
    if listed and not await t.client.nests(list(listed.values())):
        t.state.flat.append(t.project)
    for detail, shares in await asyncio.gather(*(read_one(t, u) for u in listed)):
        path = space_path(detail.uuid, listed)
        t.target.spaces["/".join(path)] = Space(
            path=path, private=detail.restricted, model=detail.model,
            users={a.email.lower(): a.role for a in shares},
            groups={g.name: g.role for g in detail.groups}, member_role=detail.member_role,
        )  # fmt: skip
        t.state.ids.spaces[space_key(t.project, path)] = (detail.uuid, detail.code_slug)
        t.space_paths[detail.code_slug] = path


FLAT = (
    "a child space, and the target serves the 0.1471 API without nested spaces (none of its "
    "spaces has `parentSpaceUuid`): it would be made at the root; restore it into a "
    "Lightdash of 1.219 or later, or move it to the root at the source"
)


def plan(ctx: PlanContext) -> None:
    for project in sorted(ctx.inv.ids.projects):
        spaces = ctx.view.projects[project].spaces.values()
        for space in sorted(spaces, key=lambda s: (len(s.path), s.path)):
            plan_space(ctx, project, space)


def plan_space(ctx: PlanContext, project: str, space: Space) -> None:
    full = space_key(project, space.path)
    parent = (
        [action_id("ld.space", space_key(project, space.path[:-1]))] if len(space.path) > 1 else []
    )
    if space.member_role and ctx.inv.space_model == ISPRIVATE:
        ctx.blocked(action_id("ld.space.member_role", full), "ld.space.member_role", full,
                    f"projectMemberAccessRole {space.member_role!r} (1.219) has no equivalent in "
                    "the target's isPrivate model: set the role of each member instead")  # fmt: skip
    role = space.member_role if ctx.inv.space_model == INHERIT else None  # else blocked above
    action = Action(id=action_id("ld.space", full), kind="ld.space", object=full, op="create",
                    params={"project": project, "path": space.path, "private": space.private,
                            "member_role": role},
                    parent=space_key(project, space.path[:-1]) if len(space.path) > 1 else None)  # fmt: skip
    if parent and project in ctx.inv.flat:
        ctx.mark(action, "blocked", FLAT)
        return
    ctx.compare(action, ctx.inv.spaces.get(full), space_digest(space.private, role), parent)
    users = {e: r for e, r in space.users.items() if ctx.user_ok(e)}
    for email in sorted(set(space.users) - set(users)):
        ctx.blocked(action_id("ld.space.share", full, email), "ld.space.share",
                    f"{full} <- {email}", f"user {email} is not on the target: {NO_INVITE}")  # fmt: skip
    if not users and not space.groups and full not in ctx.inv.space_access:
        return
    groups = {
        g: r for g, r in space.groups.items()
        if not ctx.group_missing(g, action_id("ld.space.share", full, g), "ld.space.share", f"{full} <- {g}")
    }  # fmt: skip
    have = ctx.inv.space_shares.get(full, Shares())
    grants = Action(id=action_id("ld.space.access", full), kind="ld.space.access", object=full,
                    op="create", params={"project": project, "path": space.path,
                                         "users": users, "groups": groups},
                    have=have.model_dump())  # fmt: skip
    ctx.compare(grants, ctx.inv.space_access.get(full), digest(space_grants(users, groups)),
               [action.id, *(action_id("ld.group", g) for g in groups)])  # fmt: skip


async def write_space(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    name, path = a.params["project"], a.params["path"]
    project = ctx.project(name)
    if a.op == "update":
        uuid, _ = ctx.space(name, path)
        await client.update_space(project, uuid, path[-1], a.params["private"],
                                  a.params.get("member_role"))  # fmt: skip
        return await ctx.done(a, uuid)
    parent = ctx.space(name, path[:-1])[0] if len(path) > 1 else None
    if parent and name in ctx.flat:  # a target with no space to tell it at plan time
        raise RestoreBlocked(FLAT)
    creator = await ctx.token_user(client)  # Lightdash gives them an admin share (CREATOR_SHARE)
    made = await client.create_space(project, path[-1], a.params["private"], parent)
    if not await client.nests([made]):
        ctx.flat.add(name)
    ctx.ids.spaces[space_key(name, path)] = (made.uuid, made.code_slug)
    if a.params.get("member_role"):  # 1.219's create takes no role: its update does
        await client.update_space(project, made.uuid, path[-1], a.params["private"],
                                  a.params["member_role"])  # fmt: skip
    await ctx.done(a, made.uuid, creator=creator)


async def adopt_space(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    """An interrupted run made it (the plan found it by its path): nothing else to write;
    its access and the creator's share are their own actions."""
    rec = ctx.ledger.records.get(a.id)
    creator = rec.detail.get("creator", "") if rec else ""
    await ctx.done(a, ctx.space(a.params["project"], a.params["path"])[0], creator=creator)


def wanted(ctx: ApplyContext, a: Action) -> tuple[dict[str, str], dict[str, str]]:
    """The snapshot's shares and the target's when planned, by target uuid."""
    users = {ctx.user(e): r for e, r in a.params["users"].items()}
    groups = {ctx.group(g): r for g, r in a.params["groups"].items()}
    return users, groups


def had(ctx: ApplyContext, a: Action) -> tuple[dict[str, str], dict[str, str]]:
    have = Shares.model_validate(a.have)
    users = {ctx.ids.users[e]: r for e, r in have.users.items() if e in ctx.ids.users}
    groups = {ctx.ids.groups[g]: r for g, r in have.groups.items() if g in ctx.ids.groups}
    return users, groups


async def write_access(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    """Only the shares that differ from the target's when planned. With an update (an
    overwrite, or a space an interrupted run made) the space's access becomes the
    snapshot's: others' shares go. The user shares of a space this restore creates are
    left to its reconcile, which runs after everything written into the space, since the
    creator's share is what lets a non-admin token write there."""
    project = ctx.project(a.params["project"])
    uuid, _ = ctx.space(a.params["project"], a.params["path"])
    (want_users, want_groups), (have_users, have_groups) = wanted(ctx, a), had(ctx, a)
    remove = a.op == "update"
    space = action_id("ld.space", a.object)
    creator = ctx.creator(space)
    users = protocol.share_diff(
        {u: r for u, r in have_users.items() if u != creator},
        {u: r for u, r in want_users.items() if u != creator},
        remove=remove and protocol.effects_id(space) not in ctx.planned,
    )
    groups = protocol.share_diff(have_groups, want_groups, remove=remove)
    for user, role in users.grant.items():
        await client.share_space(project, uuid, user, role)
    for group, role in groups.grant.items():
        await client.share_space_group(project, uuid, group, role)
    for user in users.revoke:
        await client.unshare_space(project, uuid, user)
    for group in groups.revoke:
        await client.unshare_space_group(project, uuid, group)
    await ctx.done(a)


def plan_creator_share(ctx: PlanContext, cause: Action) -> Action:
    """The reconcile of a space this restore made: after its content, its children and its
    other shares, its user shares become the snapshot's, the creator's included."""
    project, path = cause.params["project"], cause.params["path"]
    full = space_key(project, path)
    snapshot = ctx.view.projects[project].spaces["/".join(path)]

    def inside(a: Action) -> bool:
        """A write into the space (a blocked one writes nothing: nothing to wait for)."""
        where = a.params.get("path") if a.kind.startswith("ld.space") else a.params.get("space")
        in_it = a.params.get("project") == project and list(where or [])[: len(path)] == path
        return in_it and a.op != "blocked"

    users = {e: r for e, r in snapshot.users.items() if ctx.user_ok(e)}
    have = (
        ctx.inv.space_shares.get(full, Shares())
        if cause.op != "create" or cause.adopt
        else Shares()
    )
    return protocol.reconcile_after(CREATOR_SHARE, cause, ctx.actions.values(), inside,
                                    {"project": project, "path": path, "users": users},
                                    have.model_dump())  # fmt: skip


async def undo_creator_share(ctx: ApplyContext, client: LightdashClient, a: Action) -> str | None:
    """The space's user shares become the snapshot's: the creator's admin share goes (or
    takes the snapshot's role), with any other a killed run left. A refusal is a warning."""
    project = ctx.project(a.params["project"])
    uuid, _ = ctx.space(a.params["project"], a.params["path"])
    want, _ = wanted(ctx, a.model_copy(update={"params": {**a.params, "groups": {}}}))
    have, _ = had(ctx, a)
    creator = ctx.creator(action_id("ld.space", a.object))
    if creator:
        have[creator] = "admin"  # what CREATOR_SHARE says the create added
    diff = protocol.share_diff(have, want, remove=True)
    refused = []
    for user in diff.revoke:
        try:
            await client.unshare_space(project, uuid, user)
        except ApiStatusError as err:
            refused.append(f"{user}: {err}")
    for user, role in diff.grant.items():
        if user == creator:  # the others were shared by the access action
            await client.share_space(project, uuid, user, role)
    await ctx.done(a)
    if refused:
        return f"Lightdash refused to remove the share it gave the space's creator ({'; '.join(refused)}): remove it in Lightdash"
    return None


def space_requests(a: Action) -> int:
    """A create, and the update that gives it a role for every project member (1.219)."""
    return 1 + bool(a.op == "create" and a.params.get("member_role"))


def access_requests(a: Action) -> int:
    """One request per share that differs from the target's (all of them, for a new space)."""
    have = Shares.model_validate(a.have)
    users = protocol.share_diff(have.users, a.params["users"], remove=a.op == "update")
    groups = protocol.share_diff(have.groups, a.params["groups"], remove=a.op == "update")
    return users.writes + groups.writes


CREATOR_SHARE = protocol.SideEffect(
    cause="ld.space",
    what="the admin share Lightdash gives a space's creator",
    reconcile="ld.space.creator",
    plan=plan_creator_share,
    depth=lambda a: len(a.params["path"]),
)


def rows(name: str, project: Project) -> dict[str, Any]:
    """The permission model is how a generation spells `private`, not a field restore writes."""
    return {
        f"{name}:{k}": s.model_dump(exclude={"path", "model"}) for k, s in project.spaces.items()
    }


HANDLER = Handler(
    name="spaces",
    ids=(
        "ld.space",
        "ld.space.access",
        "ld.space.member_role",
        "ld.space.share",
    ),  # its action ids' kinds
    jobs={"ld_spaces": list_spaces, "ld_space": read_space},
    per_project=("ld_spaces",),
    content=("ld_space",),
    load=load,
    read=read,
    plan=plan,
    actions={
        "ld.space": ActionKind(
            write_space, creates=True, adopt=adopt_space, requests=space_requests
        ),
        "ld.space.access": ActionKind(write_access, requests=access_requests),
        "ld.space.creator": ActionKind(undo_creator_share),
    },
    side_effects=(CREATOR_SHARE,),
    rows=rows,
)
