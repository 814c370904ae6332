"""Dashboards, by slug, through the content-as-code download and upload: tiles (a chart
tile names its chart by `chartSlug`), tabs, and filters with their tile targets. Uploaded
after the charts their tiles name (Lightdash answers NotFoundError for a missing one, and
lightdash#28119 made a dashboard with `chartSlug: null` when a chart had failed: here the
dashboard waits, and is blocked, when a chart's upload failed). A chart saved in a dashboard
that was not on the target is linked to it once the dashboard exists. The charts saved in
a dashboard are planned here (`charts.plan_chart`), before their dashboard: what they go up
with depends on it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import EXPORT, Job, JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import ContentRef
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.handlers import charts, spaces
from omnimigrate.platforms.lightdash.handlers.charts import BATCH, moved, moved_warning
from omnimigrate.platforms.lightdash.natural_keys import (
    content_of,
    digest,
    project_of,
    projects,
    set_in,
    unheld,
    without,
)
from omnimigrate.platforms.lightdash.planning import by_key
from omnimigrate.snapshot.manifest import ObjectEntry

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

SLUGS = "dashboard"  # what `resolved` keeps a project's dashboard slugs under, by source uuid


class Dashboard(BaseModel):
    slug: str
    space: list[str]
    body: dict[str, Any]

    def compared(self) -> dict[str, Any]:
        """Less the filters' ids: each server makes its own (1.219's code leaves them out)."""
        filters = {
            k: [{x: y for x, y in f.items() if x != "id"} for f in v] if isinstance(v, list) else v
            for k, v in (self.body.get("filters") or {}).items()
        }
        return {**self.body, "filters": filters, "space": self.space}

    def chart_slugs(self) -> list[str]:
        return [
            t["properties"]["chartSlug"]
            for t in self.body.get("tiles", [])
            if t.get("type") == "saved_chart" and t.get("properties", {}).get("chartSlug")
        ]


class Dashboards(BaseModel):
    """Its part of a project, on both sides."""

    dashboards: dict[str, Dashboard] = Field(default_factory=dict)  # slug -> dashboard


class Ids(BaseModel):
    dashboards: dict[str, str] = Field(default_factory=dict)  # "<project>:<slug>" -> uuid


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"dashboards": "ld.dashboard"}

    dashboards: dict[str, str] = Field(default_factory=dict)  # "<project>:<slug>" -> digest


def dashboard_of(code: dict[str, Any], space_paths: dict[str, list[str]]) -> Dashboard:
    space = space_paths.get(code["spaceSlug"], [code["spaceSlug"]])
    return Dashboard(slug=code["slug"], space=space, body=content_of(code))


def pair(codes: list[dict[str, Any]], listed: list[ContentRef]) -> dict[str, str]:
    """A dashboard's code has its slug, not its uuid: the list's (name, updatedAt) pairs
    them where that is unambiguous (slug -> uuid)."""
    by_stamp: dict[tuple[str, str], list[str]] = {}
    for ref in listed:
        by_stamp.setdefault((ref.name, ref.updated_at), []).append(ref.uuid)
    out = {}
    for code in codes:
        found = by_stamp.get((code.get("name", ""), code.get("updatedAt", "")), [])
        if len(found) == 1:
            out[code["slug"]] = found[0]
    return out


async def list_dashboards(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    by_uuid = {e.source_id: e for (t, _), e in ctx.previous.items() if t == "ld_dashboard"}
    entries, changed = [], []
    for ref in await client.dashboard_list(args["project"]):
        old = by_uuid.get(ref.uuid)
        kept = ctx.kept("ld_dashboard", old.key, ref) if old else None
        if kept:
            entries += [kept, *saved_in(ctx, args["name"], kept.key)]
        else:
            changed.append(ref)
    children = [
        Job(kind="ld_dashboard_batch", priority=EXPORT,
            args={**args, "refs": json.dumps([r.model_dump(by_alias=True) for r in batch])})
        for batch in (changed[i : i + BATCH] for i in range(0, len(changed), BATCH))
    ]  # fmt: skip
    return JobResult(entries=entries, children=children)


async def download(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    """The list's refs came with the job; one that stays ambiguous after pairing is
    downloaded alone, by its uuid."""
    listed = [ContentRef.model_validate(r) for r in json.loads(args["refs"])]
    ids = [r.uuid for r in listed]
    codes = await client.dashboards_code(args["project"], ids)
    uuids = pair(codes, listed)
    for uuid in sorted(set(ids) - set(uuids.values())):
        alone = await client.dashboards_code(args["project"], [uuid])
        codes += alone
        uuids |= {c["slug"]: uuid for c in alone}
    ctx.exports += len(codes)
    entries = [
        await ctx.entry("ld_dashboard", f"{args['name']}:{code['slug']}", ctx.kept_content(code),
                        source_id=uuids.get(code["slug"]), updated_at=code.get("updatedAt"),
                        refs={"project": args["name"]})
        for code in {c["slug"]: c for c in codes}.values()
    ]  # fmt: skip
    tiles = sorted({s for c in codes for s in dashboard_of(c, {}).chart_slugs()})
    saved = [
        Job(kind="ld_saved_charts", priority=EXPORT, args={**args, "slugs": ",".join(chunk)})
        for chunk in (tiles[i : i + BATCH] for i in range(0, len(tiles), BATCH))
    ]  # BATCH slugs a download: they go in the query string
    return JobResult(entries=entries, children=saved)


def saved_in(ctx: Context, project: str, dashboard_key: str) -> list[ObjectEntry]:
    """An unchanged dashboard's saved charts, from the last snapshot (the charts list, which
    leaves them out, cannot say whether they changed; their dashboard's stamp does)."""
    slug = dashboard_key[len(project) + 1 :]
    kept = [
        e for (t, _), e in ctx.previous.items()
        if t == charts.ENTRY and e.refs and e.refs.get("dashboard") == slug and project_of(e) == project
    ]  # fmt: skip
    ctx.reused += len(kept)  # exports kept, as a full backup counts them among its exports
    return kept


def load(r: SnapshotReader, view: ViewBase) -> None:
    for o in r.entries("ld_dashboard"):
        name = project_of(o)
        board = dashboard_of(r.blob(o), r.resolved(spaces.PATHS, name))
        part(view.projects[name], Dashboards).dashboards[board.slug] = board
        view.blobs[f"ld_dashboard:{name}:{board.slug}"] = o.blob or ""
        r.resolved(SLUGS, name)[o.source_id or ""] = board.slug


async def read(t: TargetReader) -> None:
    codes = await t.client.dashboards_code(t.uuid)
    uuids = pair(codes, await t.client.dashboard_list(t.uuid))
    mine, ids = part(t.target, Dashboards), part(t.state.ids, Ids)
    for code in codes:
        board = dashboard_of(code, t.resolved(spaces.PATHS))
        mine.dashboards[board.slug] = board
        if board.slug in uuids:
            ids.dashboards[t.key(board.slug)] = uuids[board.slug]


def inventory(state: StateBase, inv: InventoryBase) -> None:
    mine = part(inv, Target)
    for name, p in projects(state, Dashboards).items():
        mine.dashboards |= {f"{name}:{d.slug}": digest(d.compared()) for d in p.dashboards.values()}


# 1.219's DashboardAsCode fields that 0.1471's lacks (openapi-1.219.0.json against openapi.json);
# `contentType` too, the download's type tag, which is no content, so it goes unnamed
NEW_ONLY = ("config", "parameters", "verification", "verified")
DROPPED = (*NEW_ONLY, "contentType")


def plan(ctx: PlanContext[Any, Target]) -> None:
    """Per project: the charts saved in a dashboard (`saved`), the dashboards, then the links
    of those saved charts whose dashboard was not on the target. Into 0.1471, without 1.219's
    fields (`NEW_ONLY`), those it sets named in a warning."""
    for project in ctx.projects:
        src = ctx.source(project, Dashboards)
        saved = {s: c for s, c in ctx.source(project, charts.Charts).charts.items() if c.dashboard}
        for _, chart in sorted(saved.items()):
            plan_saved(ctx, project, chart, src)
        for slug, board in sorted(src.dashboards.items()):
            plan_dashboard(ctx, project, slug, board)
        for slug, chart in sorted(saved.items()):
            plan_link(ctx, project, slug, chart.dashboard)


def plan_saved(
    ctx: PlanContext[Any, Target], project: str, chart: charts.Chart, src: Dashboards
) -> None:
    """A chart saved in a dashboard goes into its space first: the dashboard's tiles need
    it. Its upload names the dashboard when that is on the target already (and does not
    come back under a new slug), else the chart is linked to it afterwards (`plan_link`)."""
    board = charts.slug_of(ctx, "ld.dashboard", project, chart.dashboard or "") or None
    # a dashboard that comes back under a new slug is not the one of its slug there
    moving = (
        board is not None
        and board in src.dashboards
        and charts.taken(ctx, ctx.inv.dashboards, project, board, src.dashboards[board].space)
    )
    there = board is not None and not moving and f"{project}:{board}" in ctx.inv.dashboards
    charts.plan_chart(ctx, project, chart, board, there)


def plan_dashboard(
    ctx: PlanContext[Any, Target], project: str, slug: str, board: Dashboard
) -> None:
    key = f"{project}:{slug}"
    # a tile's chart that comes back under another slug (`charts.place`)
    tiles = {c: charts.slug_of(ctx, "ld.chart", project, c) for c in board.chart_slugs()}
    tiles = {c: new for c, new in tiles.items() if new != c}
    params = {"project": project, "slug": slug, "space": board.space,
              "blob": ctx.snapshot.blobs[f"ld_dashboard:{key}"],
              **({"tiles": tiles} if tiles else {}),
              "drop": list(DROPPED) if ctx.old else []}  # fmt: skip
    action = Action(id=action_id("ld.dashboard", key), kind="ld.dashboard", object=key,
                    op="create", params=params)  # fmt: skip
    parents = [action_id("ld.space", spaces.space_key(project, board.space)),
               *(action_id("ld.chart", f"{project}:{c}") for c in board.chart_slugs())]  # fmt: skip
    if spaces.space_missing(ctx, project, board.space, action):
        return
    body = retiled(board.body, tiles)
    want = board.model_copy(update={"body": without(body, DROPPED) if ctx.old else body})
    decided = charts.place(ctx, action, board.space, digest(want.compared()), parents,
                           ctx.inv.dashboards)  # fmt: skip
    lost = set_in(board.body, NEW_ONLY) if ctx.old else []
    if lost and decided.writes:
        warning = "; ".join(filter(None, [decided.warning, unheld(lost)]))
        ctx.add(decided.model_copy(update={"warning": warning}))


def plan_link(ctx: PlanContext[Any, Any], project: str, slug: str, dashboard: str | None) -> None:
    """The chart's second upload, with its `dashboardSlug`, once the dashboard exists."""
    upload = ctx.actions.get(action_id("ld.chart", f"{project}:{slug}"))
    if upload is None:  # blocked before it was planned (its space is not in the snapshot)
        return
    if dashboard is None or not upload.writes or upload.params["dashboard"]:
        return
    ctx.add(upload.model_copy(update={
        "id": action_id("ld.chart", f"{project}:{slug}", "link"),
        "params": {**{k: v for k, v in upload.params.items() if k != "taken"},
                   "dashboard": charts.slug_of(ctx, "ld.dashboard", project, dashboard)},
        "warning": "",
        "reason": "saved in its dashboard",
        "depends_on": [upload.id, action_id("ld.dashboard", f"{project}:{dashboard}")],
    }))  # fmt: skip


def retiled(code: dict[str, Any], slugs: dict[str, str]) -> dict[str, Any]:
    """A dashboard's code with its chart tiles naming the slugs their charts went up as."""
    if not slugs:
        return code
    tiles = []
    for tile in code.get("tiles", []):
        props = tile.get("properties", {})
        if tile.get("type") == "saved_chart" and props.get("chartSlug") in slugs:
            tile = {**tile, "properties": {**props, "chartSlug": slugs[props["chartSlug"]]}}
        tiles.append(tile)
    return {**code, "tiles": tiles}


async def upload(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> str | None:
    name, slug = a.params["project"], a.params["slug"]
    body = retiled(await spaces.upload_body(ctx, a), a.params.get("tiles") or {})
    body = without(body, tuple(a.params.get("drop") or ()))
    result = await client.upsert_dashboard(ctx.project(name), slug, body)
    if result.uuid:
        ctx.ids.dashboards[f"{name}:{slug}"] = result.uuid
    await ctx.done(a, result.uuid, **moved(a))
    return moved_warning(a)


def brings(a: Action, actions: Mapping[str, Action]) -> Iterable[str]:
    """A selected dashboard comes with the links of the charts saved in it."""
    return [x.id for x in actions.values() if a.id in x.depends_on and x.id.endswith(":link")]


def hold(view: ViewBase, target: StateBase) -> list[str]:
    """What the target holds of them (`spaces.held`)."""
    notes = []
    for name, p in projects(view, Dashboards).items():
        p.dashboards, left_out = spaces.held(
            target, name, p.dashboards, "dashboard", NEW_ONLY, DROPPED
        )
        notes += left_out
    return notes


def rows(name: str, project: Dashboards) -> dict[str, Any]:
    return {f"{name}:{k}": d.compared() for k, d in project.dashboards.items()}


HANDLER = Handler(
    name="dashboards",
    project=Dashboards,
    uuids=Ids,
    target=Target,
    ids=("ld.dashboard",),  # its action ids' kinds
    jobs={"ld_dashboards": list_dashboards, "ld_dashboard_batch": download},
    per_project=("ld_dashboards",),
    keeps=("ld_dashboard",),  # an unchanged dashboard is kept, not downloaded again
    content=("ld_dashboard",),
    load=load,
    read=read,
    inventory=inventory,
    plan=plan,
    actions={"ld.dashboard": ActionKind(upload, brings=brings)},
    selectors={"dashboard": by_key("ld.dashboard")},
    hold=hold,
    rows=rows,
)
