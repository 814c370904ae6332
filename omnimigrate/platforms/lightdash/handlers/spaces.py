"""Spaces by their path of names (a slug is lossy: lightdash#20661), with the private flag,
users' direct access (by email) and groups' access (by name). Restored parents first, each
created with its flag and then given its access; content is uploaded into them afterwards
with `skipSpaceCreate`, so no upload ever makes a space without its access (#13368)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from omnimigrate.engine.jobs import READ, Job, JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import INHERIT, ISPRIVATE, SpaceDetail, SpaceShare
from omnimigrate.platforms.lightdash.handler import Args, Handler
from omnimigrate.platforms.lightdash.model import (
    Space,
    digest,
    project_of,
    space_grants,
    space_key,
    space_path,
)
from omnimigrate.platforms.lightdash.planning import NO_INVITE, action_id

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.model import Project, SnapshotView
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
    for detail, shares in await asyncio.gather(*(read_one(t, u) for u in listed)):
        path = space_path(detail.uuid, listed)
        t.target.spaces["/".join(path)] = Space(
            path=path, private=detail.restricted, model=detail.model,
            users={a.email.lower(): a.role for a in shares},
            groups={g.name: g.role for g in detail.groups}, member_role=detail.member_role,
        )  # fmt: skip
        t.state.ids.spaces[space_key(t.project, path)] = (detail.uuid, detail.code_slug)
        t.space_paths[detail.code_slug] = path


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
    action = Action(id=action_id("ld.space", full), kind="ld.space", object=full, op="create",
                    params={"project": project, "path": space.path, "private": space.private})  # fmt: skip
    ctx.decide(action, ctx.inv.spaces.get(full), digest(space.private), parent)
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
    grants = Action(id=action_id("ld.space.access", full), kind="ld.space.access", object=full,
                    op="create", params={"project": project, "path": space.path,
                                         "users": users, "groups": groups})  # fmt: skip
    ctx.decide(grants, ctx.inv.space_access.get(full), digest(space_grants(users, groups)),
               [action.id, *(action_id("ld.group", g) for g in groups)])  # fmt: skip


async def write_space(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    name, path = a.params["project"], a.params["path"]
    project = ctx.project(name)
    if a.op == "update":
        uuid, _ = ctx.space(name, path)
        await client.update_space(project, uuid, path[-1], a.params["private"])
    else:
        parent = ctx.space(name, path[:-1])[0] if len(path) > 1 else None
        made = await client.create_space(project, path[-1], a.params["private"], parent)
        ctx.ids.spaces[space_key(name, path)] = (made.uuid, made.code_slug)
        uuid = made.uuid
    await ctx.done(a, uuid)


async def write_access(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    """Shares are set (sending one again sets the same role); with an update the space's
    access becomes the snapshot's, so others' direct access goes."""
    project = ctx.project(a.params["project"])
    uuid, _ = ctx.space(a.params["project"], a.params["path"])
    users = {ctx.user(e): r for e, r in a.params["users"].items()}
    groups = {ctx.group(g): r for g, r in a.params["groups"].items()}
    for user, role in sorted(users.items()):
        await client.share_space(project, uuid, user, role)
    for group, role in sorted(groups.items()):
        await client.share_space_group(project, uuid, group, role)
    if a.op == "update":
        detail = await client.space(project, uuid)
        for share in await client.space_users(project, uuid):
            if share.user not in users:
                await client.unshare_space(project, uuid, share.user)
        for grant in detail.groups:
            if grant.group not in groups:
                await client.unshare_space_group(project, uuid, grant.group)
    await ctx.done(a)


def share_requests(a: Action) -> int:
    return len(a.params["users"]) + len(a.params["groups"])


def rows(name: str, project: Project) -> dict[str, Any]:
    """The permission model is how a generation spells `private`, not a field restore writes."""
    return {
        f"{name}:{k}": s.model_dump(exclude={"path", "model"}) for k, s in project.spaces.items()
    }


HANDLER = Handler(
    name="spaces",
    jobs={"ld_spaces": list_spaces, "ld_space": read_space},
    per_project=("ld_spaces",),
    load=load,
    read=read,
    plan=plan,
    actions={"ld.space": write_space, "ld.space.access": write_access},
    rows=rows,
)
