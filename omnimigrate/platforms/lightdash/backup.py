"""Backup's walk of a Lightdash instance: people (users, groups with members), then each
selected project (the client's `project`, else every project of the organization) with its
access, spaces (each with its access), charts and dashboards through the content-as-code
download, and schedulers.

Incremental by `updatedAt`: the project's chart and dashboard lists (one request each) say
which changed since the last snapshot; only those are downloaded again, in batches by id,
and the rest keep the last snapshot's entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from omnimigrate.engine.jobs import EXPORT, LISTING, READ, Job, JobResult
from omnimigrate.engine.scope import PathFilter
from omnimigrate.platforms.lightdash.client import ContentRef, LightdashClient
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest, ObjectEntry

BATCH = 50  # ids per content download (they go in the query string)
Args = dict[str, str]


class FilterUnsupported(Exception):
    """--include/--exclude given for a Lightdash backup."""


class ProjectNotFound(Exception):
    """The selected project is not on the instance."""


@dataclass
class Context:
    blobs: BlobStore
    previous: dict[tuple[str, str], ObjectEntry] = field(default_factory=dict)
    exports: int = 0
    reused: int = 0

    async def entry(self, type_: str, key: str, obj: Any, **fields: Any) -> ObjectEntry:
        ref = await asyncio.to_thread(self.blobs.put, obj)
        return ObjectEntry(type=type_, key=key, blob=ref, **fields)

    def kept(self, type_: str, key: str, ref: ContentRef) -> ObjectEntry | None:
        """The last snapshot's entry, when the object has not changed since."""
        old = self.previous.get((type_, key))
        if old and old.updated_at == ref.updated_at and old.source_id == ref.uuid and old.blob:
            self.reused += 1
            return old
        return None


def project_job(kind: str, args: Args, priority: int = LISTING) -> Job:
    return Job(kind=kind, args=args, priority=priority)


async def people(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    users, groups = await asyncio.gather(client.users(), client.groups())
    entries = [ObjectEntry(type="ld_user", key=u.email.lower(), source_id=u.uuid) for u in users]
    children = [
        Job(kind="ld_group", args={"id": g.uuid, "key": g.name}, priority=READ) for g in groups
    ]
    return JobResult(entries=entries, children=children)


async def group(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    members = sorted(m.email.lower() for m in await client.group_members(args["id"]))
    entry = await ctx.entry("ld_group", args["key"], {"members": members}, source_id=args["id"])
    return JobResult(entries=[entry])


async def projects(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    found = await client.projects()
    chosen = found
    if client.project:
        chosen = [p for p in found if client.project in (p.uuid, p.name)]
        if not chosen:
            names = ", ".join(f"{p.name} ({p.uuid})" for p in found) or "none"
            raise ProjectNotFound(
                f"project {client.project!r} is not on {client.base_url} (its projects: "
                f"{names}): give --project a uuid or a name from that list"
            )
    entries, children = [], []
    for p in chosen:
        entries.append(ObjectEntry(type="ld_project", key=p.name, source_id=p.uuid))
        scope = {"project": p.uuid, "name": p.name}
        children += [project_job(k, scope) for k in
                     ("ld_access", "ld_spaces", "ld_charts", "ld_dashboards", "ld_schedulers")]  # fmt: skip
    return JobResult(entries=entries, children=children)


async def access(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    users, groups = await asyncio.gather(
        client.project_access(args["project"]), client.group_accesses(args["project"])
    )
    body = {
        "users": {m.email.lower(): m.role for m in users},
        "groups": {a.group: a.role for a in groups},  # uuids: named on load
    }
    return JobResult(entries=[await ctx.entry("ld_access", args["name"], body)])


async def spaces(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    listed = {s.uuid: s for s in await client.spaces(args["project"])}

    def path(uuid: str) -> list[str]:
        chain, seen = [], set()
        while uuid in listed and uuid not in seen:
            seen.add(uuid)
            chain.insert(0, listed[uuid].name)
            uuid = listed[uuid].parent or ""
        return chain

    children = [
        Job(kind="ld_space", priority=READ,
            args={**args, "id": s.uuid, "key": "/".join(path(s.uuid))})
        for s in listed.values()
    ]  # fmt: skip
    return JobResult(children=children)


async def space(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    detail = await client.space(args["project"], args["id"])
    body = {
        "path": args["key"].split("/"),
        "slug": detail.slug,
        "private": detail.is_private,
        "users": {a.email.lower(): a.role for a in detail.access if a.direct},
        "groups": {g.group: g.role for g in detail.groups},  # uuids: named on load
    }
    key = f"{args['name']}:{args['key']}"
    return JobResult(entries=[await ctx.entry("ld_space", key, body, source_id=detail.uuid)])


async def charts(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    listed = await client.chart_list(args["project"])
    entries, changed = [], []
    for ref in listed:
        kept = ctx.kept("ld_chart", f"{args['name']}:{ref.slug}", ref)
        if kept:
            entries.append(kept)
        else:
            changed.append(ref)
    children = [
        Job(kind="ld_chart_batch", priority=EXPORT,
            args={**args, "ids": ",".join(r.uuid for r in batch),
                  "slugs": ",".join(r.slug or "" for r in batch)})
        for batch in _batches(changed)
    ]  # fmt: skip
    return JobResult(entries=entries, children=children)


async def chart_batch(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    ids = args["ids"].split(",")
    downloaded = await client.charts_code(args["project"], ids)
    ctx.exports += len(downloaded)
    # the code has the slug, not the uuid: the project's list paired them
    uuids = dict(zip(args["slugs"].split(","), ids, strict=True))
    entries = [
        await ctx.entry("ld_chart", f"{args['name']}:{code['slug']}", _content(code),
                        source_id=uuids.get(code["slug"]), updated_at=code.get("updatedAt"))
        for code in downloaded
    ]  # fmt: skip
    return JobResult(entries=entries)


async def dashboards(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    listed = await client.dashboard_list(args["project"])
    by_uuid = {e.source_id: e for (t, _), e in ctx.previous.items() if t == "ld_dashboard"}
    entries, changed = [], []
    for ref in listed:
        old = by_uuid.get(ref.uuid)
        kept = ctx.kept("ld_dashboard", old.key, ref) if old else None
        if kept:
            entries.append(kept)
        else:
            changed.append(ref)
    children = [
        Job(kind="ld_dashboard_batch", priority=EXPORT,
            args={**args, "ids": ",".join(r.uuid for r in batch)})
        for batch in _batches(changed)
    ]  # fmt: skip
    return JobResult(entries=entries, children=children)


async def dashboard_batch(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    """A dashboard's code has its slug but not its uuid; the list's (name, updatedAt) pairs
    them, and one that stays ambiguous is downloaded alone."""
    ids = args["ids"].split(",")
    listed = {r.uuid: r for r in await client.dashboard_list(args["project"]) if r.uuid in ids}
    downloaded = await client.dashboards_code(args["project"], ids)
    ctx.exports += len(downloaded)
    entries = []
    for uuid, ref in listed.items():
        matches = [
            c
            for c in downloaded
            if (c.get("name"), c.get("updatedAt")) == (ref.name, ref.updated_at)
        ]
        if len(matches) != 1:
            matches = await client.dashboards_code(args["project"], [uuid])
            ctx.exports += len(matches)
        for code in matches[:1]:
            entries.append(await ctx.entry(
                "ld_dashboard", f"{args['name']}:{code['slug']}", _content(code),
                source_id=uuid, updated_at=code.get("updatedAt")))  # fmt: skip
    return JobResult(entries=entries)


async def schedulers(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    entries = []
    for s in await client.schedulers(args["project"]):
        refs = {"chart": s.get("savedChartUuid"), "dashboard": s.get("dashboardUuid")}
        key = f"{args['name']}:{s['schedulerUuid']}"
        entries.append(
            await ctx.entry("ld_scheduler", key, s, source_id=s["schedulerUuid"], refs=refs)
        )
    return JobResult(entries=entries)


def _content(code: dict[str, Any]) -> dict[str, Any]:
    """What is kept of a download: not the moment it was made."""
    return {k: v for k, v in code.items() if k != "downloadedAt"}


def _batches(refs: list[ContentRef]) -> list[list[ContentRef]]:
    return [refs[i : i + BATCH] for i in range(0, len(refs), BATCH)]


JOBS: dict[str, Callable[[Context, LightdashClient, Args], Awaitable[JobResult]]] = {
    "ld_people": people,
    "ld_group": group,
    "ld_projects": projects,
    "ld_access": access,
    "ld_spaces": spaces,
    "ld_space": space,
    "ld_charts": charts,
    "ld_chart_batch": chart_batch,
    "ld_dashboards": dashboards,
    "ld_dashboard_batch": dashboard_batch,
    "ld_schedulers": schedulers,
}


class LightdashWalker:
    """The engine's walker for Lightdash. Spaces, charts and dashboards are its content."""

    content_types = ("ld_space", "ld_chart", "ld_dashboard")

    def __init__(self, blobs: BlobStore, scope: PathFilter, previous: Manifest | None) -> None:
        if scope.include or scope.exclude:
            raise FilterUnsupported(
                "a Lightdash backup takes no --include/--exclude (it backs up whole projects): "
                "choose the project with --project instead"
            )
        self.blobs = blobs
        kept = ("ld_chart", "ld_dashboard")
        self.context = Context(
            blobs,
            {(o.type, o.key): o for o in previous.objects if o.type in kept} if previous else {},
        )

    @property
    def exports(self) -> int:
        return self.context.exports

    @property
    def reused(self) -> int:
        return self.context.reused

    def roots(self) -> list[Job]:
        return [Job(kind="ld_people", priority=LISTING), Job(kind="ld_projects", priority=LISTING)]

    async def run(self, job: Job, client: LightdashClient) -> JobResult:
        do = JOBS.get(job.kind)
        if do is None:
            raise ValueError(
                f"job {job.key} is not one this omnimigrate knows: finish the run with the "
                "version that started it, or start over with `--full`"
            )
        return await do(self.context, client, job.args)
