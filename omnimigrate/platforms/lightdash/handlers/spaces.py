"""Spaces by their path of names (a slug is lossy: lightdash#20661), with the private flag,
users' direct access (by email) and groups' access (by name). Restored parents first, each
created with its flag and then given its access; content is uploaded into them afterwards
with `skipSpaceCreate`, so no upload ever makes a space without its access (#13368).

What content asks of its space is here too: a space the snapshot lacks (`space_missing`),
its uuid and slug on the target (`space_ids`), the upload body into it (`upload_body`), the
space path glob of `--include` (`in_space`), and whether the target keeps children (`State.flat`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, Field

from omnimigrate.engine import protocol
from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.apply import RestoreBlocked, RestoreError
from omnimigrate.engine.jobs import READ, Job, JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.errors import ApiStatusError
from omnimigrate.platforms.lightdash.client import ISPRIVATE, SpaceDetail, SpaceShare
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.handlers import groups as people
from omnimigrate.platforms.lightdash.natural_keys import (
    digest,
    project_of,
    projects,
    set_in,
    unheld_note,
    without,
)
from omnimigrate.platforms.lightdash.planning import in_glob, natural

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

PATHS = "space"  # what `resolved` keeps a project's space paths under, by their code slug


def space_key(project: str, path: tuple[str, ...] | list[str]) -> str:
    return f"{project}:{'/'.join(path)}"


def space_path(uuid: str, spaces: Mapping[str, Any]) -> list[str]:
    """A space's path of names, from the listed spaces' parents (cycles and unlisted parents
    end it)."""
    chain: list[str] = []
    seen: set[str] = set()
    while uuid in spaces and uuid not in seen:
        seen.add(uuid)
        chain.insert(0, spaces[uuid].name)
        uuid = spaces[uuid].parent or ""
    return chain


class Space(BaseModel):
    path: list[str]
    private: bool  # 0.1471's isPrivate; 1.219's not inheritParentPermissions
    model: str = (
        "isPrivate"  # the permission model it was read in (isPrivate or inheritParentPermissions)
    )
    member_role: str | None = None  # 1.219's projectMemberAccessRole (0.1471 has none)
    users: dict[str, str] = Field(default_factory=dict)  # email -> space role (direct access)
    groups: dict[str, str] = Field(default_factory=dict)  # group name -> space role


def space_digest(private: bool, member_role: str | None) -> str:
    """What a space's create or update writes, besides its access: a role for every project
    member is 1.219's alone (a space without one digests as before it was kept)."""
    return digest(private) if member_role is None else digest([private, member_role])


def space_grants(users: dict[str, str], groups: dict[str, str]) -> dict[str, dict[str, str]]:
    return {"users": users, "groups": groups}


class Shares(BaseModel):
    """A space's direct shares on the target: user email -> role, group name -> role."""

    users: dict[str, str] = Field(default_factory=dict)
    groups: dict[str, str] = Field(default_factory=dict)


class Spaces(BaseModel):
    """Its part of a project, on both sides."""

    spaces: dict[str, Space] = Field(default_factory=dict)  # "/".join(path) -> space


class State(BaseModel):
    flat: list[str] = Field(default_factory=list)  # projects whose server keeps no parents


class Ids(BaseModel):
    spaces: dict[str, tuple[str, str]] = Field(default_factory=dict)  # space_key -> (uuid, slug)


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "spaces": "ld.space",
        # a create gives its creator a share (then undone): the space's and its access's
        "space_access": ("ld.space", "ld.space.access"),
        "space_shares": ("ld.space", "ld.space.access"),
    }

    flat: list[str] = Field(default_factory=list)  # projects whose server keeps no parents
    spaces: dict[str, str] = Field(default_factory=dict)  # its private flag
    space_access: dict[str, str] = Field(default_factory=dict)  # its user and group access
    space_shares: dict[str, Shares] = Field(default_factory=dict)  # the same, what a diff reads


# ---------------------------------------------------------------------- what content asks


def space_missing(
    ctx: PlanContext[Any, Any], project: str, path: list[str], action: Action
) -> bool:
    """Content whose space the snapshot lacks (the backup's token could not read it) is
    blocked, named, instead of failing when it is written."""
    if "/".join(path) in ctx.source(project, Spaces).spaces:
        return False
    ctx.blocked(action.id, action.kind, action.object,
                f"its space {'/'.join(path)!r} is not in the snapshot: the backup's token "
                "could not read it; back up with a token that can")  # fmt: skip
    return True


def space_ids(ctx: ApplyContext[Any], project: str, path: list[str]) -> tuple[str, str]:
    """A space's uuid and slug on the target (made by this run, or there when planned)."""
    found = part(ctx.ids, Ids).spaces.get(space_key(project, path))
    if found is None:
        raise RestoreError(f"space {'/'.join(path)} is not on the target project {project}")
    return found


async def upload_body(ctx: ApplyContext[Any], a: Action) -> dict[str, Any]:
    """A chart's or dashboard's code as uploaded: into the target space's slug, which
    omnimigrate made with its access (so Lightdash must not make one)."""
    code = await ctx.blob(a.params["blob"])
    slug = space_ids(ctx, a.params["project"], a.params["space"])[1]
    return {**code, "slug": a.params["slug"], "spaceSlug": slug, "skipSpaceCreate": True}


def in_space(action: Action, pattern: str) -> bool:
    """A space path glob: a space (and its access) by its path, content by its space's."""
    if action.kind in ("ld.space", "ld.space.access"):
        return in_glob(natural(action), pattern)
    where = action.params.get("space")
    return isinstance(where, list) and in_glob("/".join(where), pattern)


def flat(target: StateBase, project: str) -> bool:
    """The target's server keeps no parents in `project`."""
    return project in part(target, State).flat


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


def load(r: SnapshotReader, view: ViewBase) -> None:
    for o in r.entries("ld_space"):
        name, body = project_of(o), r.blob(o)
        found = Space(path=body["path"], private=body["private"], users=body["users"],
                      groups=people.named(r, body["groups"]), model=body.get("model", ISPRIVATE),
                      member_role=body.get("projectMemberAccessRole"))  # fmt: skip
        part(view.projects[name], Spaces).spaces["/".join(found.path)] = found
        r.resolved(PATHS, name)[body["slug"]] = found.path


async def read_one(t: TargetReader, uuid: str) -> tuple[SpaceDetail, list[SpaceShare]]:
    client = t.next_client()
    detail, shares = await asyncio.gather(
        client.space(t.uuid, uuid), client.space_users(t.uuid, uuid)
    )
    return detail, shares


async def read(t: TargetReader) -> None:
    listed = {s.uuid: s for s in await t.client.spaces(t.uuid)}
    # a target with no space cannot tell: its first create's answer does (`write_space`)
    if listed and not await t.client.nests(list(listed.values())):
        part(t.state, State).flat.append(t.project)
    mine, ids = part(t.target, Spaces), part(t.state.ids, Ids)
    for detail, shares in await asyncio.gather(*(read_one(t, u) for u in listed)):
        path = space_path(detail.uuid, listed)
        mine.spaces["/".join(path)] = Space(
            path=path, private=detail.restricted, model=detail.model,
            users={a.email.lower(): a.role for a in shares},
            groups={g.name: g.role for g in detail.groups}, member_role=detail.member_role,
        )  # fmt: skip
        ids.spaces[space_key(t.project, path)] = (detail.uuid, detail.code_slug)
        t.resolved(PATHS)[detail.code_slug] = path


def inventory(state: StateBase, inv: InventoryBase) -> None:
    mine = part(inv, Target)
    mine.flat = list(part(state, State).flat)
    for name, p in projects(state, Spaces).items():
        for s in p.spaces.values():
            key = space_key(name, s.path)
            mine.spaces[key] = space_digest(s.private, s.member_role)
            mine.space_access[key] = digest(space_grants(s.users, s.groups))
            mine.space_shares[key] = Shares(users=s.users, groups=s.groups)


FLAT = (
    "a child space, and the target serves the 0.1471 API without nested spaces (none of its "
    "spaces has `parentSpaceUuid`): it would be made at the root; restore it into a "
    "Lightdash of 1.219 or later, or move it to the root at the source"
)


def plan(ctx: PlanContext[Any, Target]) -> None:
    for project in ctx.projects:
        spaces = ctx.source(project, Spaces).spaces.values()
        for space in sorted(spaces, key=lambda s: (len(s.path), s.path)):
            plan_space(ctx, project, space)


def plan_space(ctx: PlanContext[Any, Target], project: str, space: Space) -> None:
    full = space_key(project, space.path)
    parent = (
        [action_id("ld.space", space_key(project, space.path[:-1]))] if len(space.path) > 1 else []
    )
    if space.member_role and ctx.old:
        ctx.blocked(action_id("ld.space.member_role", full), "ld.space.member_role", full,
                    f"projectMemberAccessRole {space.member_role!r} (1.219) has no equivalent in "
                    "the target's isPrivate model: set the role of each member instead")  # fmt: skip
    role = space.member_role if not ctx.old else None  # else blocked above
    action = Action(id=action_id("ld.space", full), kind="ld.space", object=full, op="create",
                    params={"project": project, "path": space.path, "private": space.private,
                            "member_role": role},
                    parent=space_key(project, space.path[:-1]) if len(space.path) > 1 else None)  # fmt: skip
    if parent and project in ctx.inv.flat:
        ctx.mark(action, "blocked", FLAT)
        return
    ctx.compare(action, ctx.inv.spaces.get(full), space_digest(space.private, role), parent)
    users = {e: r for e, r in space.users.items() if people.user_ok(ctx, e)}
    for email in sorted(set(space.users) - set(users)):
        ctx.blocked(action_id("ld.space.share", full, email), "ld.space.share",
                    f"{full} <- {email}", f"user {email} is not on the target: {people.NO_INVITE}")  # fmt: skip
    if not users and not space.groups and full not in ctx.inv.space_access:
        return
    groups = {
        g: r for g, r in space.groups.items()
        if not people.group_missing(ctx, g, action_id("ld.space.share", full, g), "ld.space.share", f"{full} <- {g}")
    }  # fmt: skip
    have = ctx.inv.space_shares.get(full, Shares())
    grants = Action(id=action_id("ld.space.access", full), kind="ld.space.access", object=full,
                    op="create", params={"project": project, "path": space.path,
                                         "users": users, "groups": groups},
                    have=have.model_dump())  # fmt: skip
    ctx.compare(grants, ctx.inv.space_access.get(full), digest(space_grants(users, groups)),
               [action.id, *(action_id("ld.group", g) for g in groups)])  # fmt: skip


def creator(ctx: ApplyContext[Any], space_action: str) -> str | None:
    """Who created a space this restore made (the ledger has it from the create)."""
    rec = ctx.ledger.records.get(space_action)
    return rec.detail.get("creator") or None if rec else None


async def write_space(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> None:
    name, path = a.params["project"], a.params["path"]
    project = ctx.project(name)
    if a.op == "update":
        uuid, _ = space_ids(ctx, name, path)
        await client.update_space(project, uuid, path[-1], a.params["private"],
                                  a.params.get("member_role"))  # fmt: skip
        return await ctx.done(a, uuid)
    parent = space_ids(ctx, name, path[:-1])[0] if len(path) > 1 else None
    kept_flat = part(ctx.inv, Target).flat
    if parent and name in kept_flat:  # a target with no space to tell it at plan time
        raise RestoreBlocked(FLAT)
    by = await ctx.token_user(client)  # Lightdash gives them an admin share (CREATOR_SHARE)
    made = await client.create_space(project, path[-1], a.params["private"], parent)
    if not await client.nests([made]) and name not in kept_flat:
        kept_flat.append(name)
    ctx.ids.spaces[space_key(name, path)] = (made.uuid, made.code_slug)
    if a.params.get("member_role"):  # 1.219's create takes no role: its update does
        await client.update_space(project, made.uuid, path[-1], a.params["private"],
                                  a.params["member_role"])  # fmt: skip
    await ctx.done(a, made.uuid, creator=by)


async def adopt_space(ctx: ApplyContext[Any], client: LightdashClient, a: Action) -> None:
    """An interrupted run made it (the plan found it by its path): nothing else to write;
    its access and the creator's share are their own actions."""
    rec = ctx.ledger.records.get(a.id)
    by = rec.detail.get("creator", "") if rec else ""
    await ctx.done(a, space_ids(ctx, a.params["project"], a.params["path"])[0], creator=by)


def wanted(ctx: ApplyContext[Any], a: Action) -> tuple[dict[str, str], dict[str, str]]:
    """The snapshot's shares and the target's when planned, by target uuid."""
    users = {people.user(ctx, e): r for e, r in a.params["users"].items()}
    groups = {people.group(ctx, g): r for g, r in a.params["groups"].items()}
    return users, groups


def had(ctx: ApplyContext[Any], a: Action) -> tuple[dict[str, str], dict[str, str]]:
    have, ids = Shares.model_validate(a.have), part(ctx.ids, people.Ids)
    users = {ids.users[e]: r for e, r in have.users.items() if e in ids.users}
    groups = {ids.groups[g]: r for g, r in have.groups.items() if g in ids.groups}
    return users, groups


async def write_access(ctx: ApplyContext[Any], client: LightdashClient, a: Action) -> None:
    """Only the shares that differ from the target's when planned. With an update (an
    overwrite, or a space an interrupted run made) the space's access becomes the
    snapshot's: others' shares go. The user shares of a space this restore creates are
    left to its reconcile, which runs after everything written into the space, since the
    creator's share is what lets a non-admin token write there."""
    project = ctx.project(a.params["project"])
    uuid, _ = space_ids(ctx, a.params["project"], a.params["path"])
    (want_users, want_groups), (have_users, have_groups) = wanted(ctx, a), had(ctx, a)
    remove = a.op == "update"
    made = action_id("ld.space", a.object)
    by = creator(ctx, made)
    users = protocol.share_diff(
        {u: r for u, r in have_users.items() if u != by},
        {u: r for u, r in want_users.items() if u != by},
        remove=remove and protocol.effects_id(made) not in ctx.planned,
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


def plan_creator_share(ctx: PlanContext[Any, Target], cause: Action) -> Action:
    """The reconcile of a space this restore made: after its content, its children and its
    other shares, its user shares become the snapshot's, the creator's included."""
    project, path = cause.params["project"], cause.params["path"]
    full = space_key(project, path)
    snapshot = ctx.source(project, Spaces).spaces["/".join(path)]

    def inside(a: Action) -> bool:
        """A write into the space (a blocked one writes nothing: nothing to wait for)."""
        where = a.params.get("path") if a.kind.startswith("ld.space") else a.params.get("space")
        in_it = a.params.get("project") == project and list(where or [])[: len(path)] == path
        return in_it and a.op != "blocked"

    users = {e: r for e, r in snapshot.users.items() if people.user_ok(ctx, e)}
    have = (
        ctx.inv.space_shares.get(full, Shares())
        if cause.op != "create" or cause.adopt
        else Shares()
    )
    return protocol.reconcile_after(CREATOR_SHARE, cause, ctx.actions.values(), inside,
                                    {"project": project, "path": path, "users": users},
                                    have.model_dump())  # fmt: skip


async def undo_creator_share(
    ctx: ApplyContext[Any], client: LightdashClient, a: Action
) -> str | None:
    """The space's user shares become the snapshot's: the creator's admin share goes (or
    takes the snapshot's role), with any other a killed run left. A refusal is a warning."""
    project = ctx.project(a.params["project"])
    uuid, _ = space_ids(ctx, a.params["project"], a.params["path"])
    want, _ = wanted(ctx, a.model_copy(update={"params": {**a.params, "groups": {}}}))
    have, _ = had(ctx, a)
    by = creator(ctx, action_id("ld.space", a.object))
    if by:
        have[by] = "admin"  # what CREATOR_SHARE says the create added
    diff = protocol.share_diff(have, want, remove=True)
    refused = []
    for user in diff.revoke:
        try:
            await client.unshare_space(project, uuid, user)
        except ApiStatusError as err:
            refused.append(f"{user}: {err}")
    for user, role in diff.grant.items():
        if user == by:  # the others were shared by the access action
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


def brings(a: Action, _actions: Mapping[str, Action]) -> Iterable[str]:
    """A selected space comes with its access and the undoing of its creator's share."""
    return [a.id.replace("ld.space:", "ld.space.access:", 1), protocol.effects_id(a.id)]


def hold(view: ViewBase, target: StateBase) -> list[str]:
    """Into 0.1471, no role for every member; into a flat server, no child space (nor, in
    each content type's own `hold`, what is in one)."""
    notes = []
    for name, p in projects(view, Spaces).items():
        roles = sorted(k for k, s in p.spaces.items() if s.member_role)
        if target.space_model == ISPRIVATE and roles:
            for k in roles:
                p.spaces[k].member_role = None
            notes.append(f"{name}: {len(roles)} projectMemberAccessRole(s) are not compared: "
                         "the target serves 0.1471, which has no equivalent")  # fmt: skip
        if flat(target, name):
            children = {k for k, s in p.spaces.items() if len(s.path) > 1}
            p.spaces = {k: s for k, s in p.spaces.items() if k not in children}
            if children:
                notes.append(f"{name}: {len(children)} child spaces and their content are not "
                             "compared: the target is flat (0.1471 without nested spaces)")  # fmt: skip
    return notes


def in_child(target: StateBase, project: str, path: list[str]) -> bool:
    """Content a flat target cannot hold, verify leaves out: in a child space."""
    return len(path) > 1 and flat(target, project)


class InSpace(Protocol):
    """Content in a space, as code: what `held` reads and trims of a chart or dashboard."""

    space: list[str]
    body: dict[str, Any]


ContentT = TypeVar("ContentT", bound=InSpace)


def held(
    target: StateBase,
    project: str,
    content: dict[str, ContentT],
    kind: str,
    new_only: tuple[str, ...],
    dropped: tuple[str, ...],
) -> tuple[dict[str, ContentT], list[str]]:
    """What of a project's content (`kind`) the target holds: into a flat server, none in a
    child space; into 0.1471, each without 1.219's fields (`dropped`, as the plan sent it).
    Answers it, with verify's note on each of `new_only` that some of it had."""
    kept = {k: c for k, c in content.items() if not in_child(target, project, c.space)}
    if target.space_model != ISPRIVATE:
        return kept, []
    named: dict[str, int] = {}
    for c in kept.values():
        for f in set_in(c.body, new_only):
            named[f] = named.get(f, 0) + 1
        c.body = without(c.body, dropped)
    return kept, [unheld_note(project, kind, f, n) for f, n in sorted(named.items())]


def rows(name: str, project: Spaces) -> dict[str, Any]:
    """The permission model is how a generation spells `private`, not a field restore writes."""
    return {
        f"{name}:{k}": s.model_dump(exclude={"path", "model"}) for k, s in project.spaces.items()
    }


HANDLER = Handler(
    name="spaces",
    project=Spaces,
    state=State,
    uuids=Ids,
    target=Target,
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
    inventory=inventory,
    plan=plan,
    actions={
        "ld.space": ActionKind(
            write_space, creates=True, adopt=adopt_space, requests=space_requests, brings=brings
        ),
        "ld.space.access": ActionKind(write_access, requests=access_requests),
        "ld.space.creator": ActionKind(undo_creator_share),
    },
    side_effects=(CREATOR_SHARE,),
    selectors={"space": in_space},  # and a bare pattern (planning.SPACE_PATH)
    hold=hold,
    rows=rows,
)
