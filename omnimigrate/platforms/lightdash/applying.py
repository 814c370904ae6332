"""Restore's writes to a Lightdash target, one function per action kind, and the runner the
engine's apply loop calls. Uuids and slugs come from the plan's inventory plus what this run
creates; every write is an upsert by natural key or is looked up before it is sent again,
so a re-run after a kill makes no duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.plan import Action
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.platforms.lightdash.client import LightdashClient
from omnimigrate.platforms.lightdash.model import TargetIds, space_key
from omnimigrate.platforms.lightdash.planning import LightdashPlan
from omnimigrate.snapshot.blobs import BlobStore


class ApplyContext:
    def __init__(self, plan: LightdashPlan, blobs: BlobStore, ledger: RestoreLedger) -> None:
        self.ids: TargetIds = plan.inventory.ids.model_copy(deep=True)
        self.blobs = blobs
        self.ledger = ledger

    async def done(self, action: Action, target: str | None = None) -> None:
        record = LedgerRecord(status="done", digest=action.digest, target=target)
        await asyncio.to_thread(self.ledger.write, action.id, record)

    def project(self, name: str) -> str:
        return self.ids.projects[name]

    def user(self, email: str) -> str:
        if email not in self.ids.users:
            raise RestoreError(f"user {email} is not on the target")
        return self.ids.users[email]

    def group(self, name: str) -> str:
        if name not in self.ids.groups:
            raise RestoreError(f"group {name} is not on the target")
        return self.ids.groups[name]

    def space(self, project: str, path: list[str]) -> tuple[str, str]:
        found = self.ids.spaces.get(space_key(project, path))
        if found is None:
            raise RestoreError(f"space {'/'.join(path)} is not on the target project {project}")
        return found

    async def blob(self, ref: str) -> dict[str, Any]:
        return await asyncio.to_thread(self.blobs.get, ref)


Apply = Callable[[ApplyContext, LightdashClient, Action], Awaitable[None]]


async def group(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    members = [ctx.user(e) for e in a.params["members"]]
    uuid = await client.create_group(a.params["name"], members)
    ctx.ids.groups[a.params["name"]] = uuid
    await ctx.done(a, uuid)


async def group_members(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    group_uuid = ctx.group(a.params["name"])
    for email in a.params["add"]:
        await client.add_group_member(group_uuid, ctx.user(email))
    await ctx.done(a)


async def access_user(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    project, email, role = ctx.project(a.params["project"]), a.params["email"], a.params["role"]
    if a.op == "update":
        await client.update_project_access(project, ctx.user(email), role)
    else:
        await client.grant_project_access(project, email, role)
    await ctx.done(a)


async def access_group(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    project = ctx.project(a.params["project"])
    await client.grant_group_access(ctx.group(a.params["group"]), project, a.params["role"],
                                    update=a.op == "update")  # fmt: skip
    await ctx.done(a)


async def space(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    name, path = a.params["project"], a.params["path"]
    project = ctx.project(name)
    if a.op == "update":
        uuid, _ = ctx.space(name, path)
        await client.update_space(project, uuid, path[-1], a.params["private"])
    else:
        parent = ctx.space(name, path[:-1])[0] if len(path) > 1 else None
        made = await client.create_space(project, path[-1], a.params["private"], parent)
        ctx.ids.spaces[space_key(name, path)] = (made.uuid, made.slug)
        uuid = made.uuid
    await ctx.done(a, uuid)


async def space_access(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    project = ctx.project(a.params["project"])
    uuid, _ = ctx.space(a.params["project"], a.params["path"])
    for email, role in sorted(a.params["users"].items()):
        await client.share_space(project, uuid, ctx.user(email), role)
    for name, role in sorted(a.params["groups"].items()):
        await client.share_space_group(project, uuid, ctx.group(name), role)
    if a.op == "update":  # the space's access becomes the snapshot's: others' direct access goes
        wanted = {ctx.user(e) for e in a.params["users"]}
        groups = {ctx.group(g) for g in a.params["groups"]}
        detail = await client.space(project, uuid)
        for share in detail.access:
            if share.direct and share.user not in wanted:
                await client.unshare_space(project, uuid, share.user)
        for grant in detail.groups:
            if grant.group not in groups:
                await client.unshare_space_group(project, uuid, grant.group)
    await ctx.done(a)


async def chart(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    name, slug = a.params["project"], a.params["slug"]
    body = {**await ctx.blob(a.params["blob"]), "slug": slug, "skipSpaceCreate": True,
            "spaceSlug": ctx.space(name, a.params["space"])[1]}  # fmt: skip
    body.pop("dashboardSlug", None)
    if a.params["dashboard"]:
        body["dashboardSlug"] = a.params["dashboard"]
    result = await client.upsert_chart(ctx.project(name), slug, body)
    if result.uuid:
        ctx.ids.charts[f"{name}:{slug}"] = result.uuid
    await ctx.done(a, result.uuid)


async def dashboard(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    name, slug = a.params["project"], a.params["slug"]
    body = {**await ctx.blob(a.params["blob"]), "slug": slug, "skipSpaceCreate": True,
            "spaceSlug": ctx.space(name, a.params["space"])[1]}  # fmt: skip
    result = await client.upsert_dashboard(ctx.project(name), slug, body)
    if result.uuid:
        ctx.ids.dashboards[f"{name}:{slug}"] = result.uuid
    await ctx.done(a, result.uuid)


async def scheduler(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    p = a.params
    ids = ctx.ids.charts if p["on"] == "chart" else ctx.ids.dashboards
    resource = ids.get(f"{p['project']}:{p['resource']}")
    if resource is None:
        raise RestoreError(
            f"the {p['on']} {p['resource']} of scheduler {p['key']} is not on the target"
        )
    targets = [
        {"channel": t[6:]} if t.startswith("slack:") else {"recipient": t[6:]} for t in p["targets"]
    ]
    body = {**p["body"], "targets": targets}
    full = f"{p['project']}:{p['key']}"
    if a.op == "update" and full in ctx.ids.schedulers:
        await client.update_scheduler(ctx.ids.schedulers[full], body)
        uuid = ctx.ids.schedulers[full]
    else:
        uuid = await client.create_scheduler(ctx.project(p["project"]), (p["on"], resource), body)
    await ctx.done(a, uuid)


KINDS: dict[str, Apply] = {
    "ld.group": group,
    "ld.group.members": group_members,
    "ld.access.user": access_user,
    "ld.access.group": access_group,
    "ld.space": space,
    "ld.space.access": space_access,
    "ld.chart": chart,
    "ld.dashboard": dashboard,
    "ld.scheduler": scheduler,
}


class LightdashRunner:
    def __init__(self, plan: LightdashPlan, blobs: BlobStore, ledger: RestoreLedger) -> None:
        self.context = ApplyContext(plan, blobs, ledger)

    async def apply(self, action: Action, client: LightdashClient) -> None:
        do = KINDS.get(action.kind)
        if do is None:
            raise RestoreError(
                f"{action.id}: {action.kind} is not an action this omnimigrate applies: "
                "make the plan again with `omnimigrate plan`"
            )
        await do(self.context, client, action)

    async def adopt(self, action: Action) -> None:
        raise RestoreError(f"{action.id}: Lightdash actions are never adopted")
