"""SQL charts (1.219's content type: a saved SQL query and its visualisation), by slug, as
charts are: backed up through `GET code/sqlCharts` (paged by the answer's offset), kept with
their space's path, restored through `POST code/sqlCharts/{slug}` into the target space's
slug with `skipSpaceCreate`. Their code has no uuid, which the schedulers on them name, so
each is looked up by slug (`GET sqlRunner/saved/slug/{slug}`), on both sides. 0.1471 has no
SQL charts: a snapshot's are blocked against it, naming the target's generation."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import ISPRIVATE
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.handlers import spaces
from omnimigrate.platforms.lightdash.natural_keys import content_of, digest, project_of, projects
from omnimigrate.platforms.lightdash.planning import by_key

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

SLUGS = "sqlchart"  # what `resolved` keeps a project's SQL chart slugs under, by source uuid


class SqlChart(BaseModel):
    """1.219's SQL chart: its code (`sql`, `config`, `chartKind`, `limit`…) in its space."""

    slug: str
    space: list[str]
    body: dict[str, Any]

    def compared(self) -> dict[str, Any]:
        return {**self.body, "space": self.space}


class SqlCharts(BaseModel):
    """Its part of a project, on both sides."""

    sql_charts: dict[str, SqlChart] = Field(default_factory=dict)  # slug -> it (1.219's)


class Ids(BaseModel):
    sql_charts: dict[str, str] = Field(default_factory=dict)  # "<project>:<slug>" -> uuid


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"sql_charts": "ld.sqlchart"}

    sql_charts: dict[str, str] = Field(default_factory=dict)  # "<project>:<slug>" -> digest


NO_SQL_CHARTS = (
    "SQL charts are a content type of Lightdash 1.x: the target serves the 0.1471 API, which "
    "has none; restore them into a Lightdash of 1.219 or later"
)


def sql_chart_of(code: dict[str, Any], space_paths: dict[str, list[str]]) -> SqlChart:
    space = space_paths.get(code["spaceSlug"], [code["spaceSlug"]])
    return SqlChart(slug=code["slug"], space=space, body=content_of(code))


async def list_sql_charts(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    """One download of them all (none on 0.1471), and each one's uuid by its slug."""
    project = args["project"]
    codes = await client.sql_charts_code(project)
    uuids = await asyncio.gather(*(client.sql_chart_uuid(project, c["slug"]) for c in codes))
    ctx.exports += len(codes)
    entries = [
        await ctx.entry("ld_sqlchart", f"{args['name']}:{code['slug']}", ctx.kept_content(code),
                        source_id=uuid, updated_at=code.get("updatedAt"),
                        refs={"project": args["name"]})
        for code, uuid in zip(codes, uuids, strict=True)
    ]  # fmt: skip
    return JobResult(entries=entries)


def load(r: SnapshotReader, view: ViewBase) -> None:
    for o in r.entries("ld_sqlchart"):
        name = project_of(o)
        chart = sql_chart_of(r.blob(o), r.resolved(spaces.PATHS, name))
        part(view.projects[name], SqlCharts).sql_charts[chart.slug] = chart
        view.blobs[f"ld_sqlchart:{name}:{chart.slug}"] = o.blob or ""
        r.resolved(SLUGS, name)[o.source_id or ""] = chart.slug


async def read(t: TargetReader) -> None:
    codes = await t.client.sql_charts_code(t.uuid)
    uuids = await asyncio.gather(
        *(t.next_client().sql_chart_uuid(t.uuid, c["slug"]) for c in codes)
    )
    mine, ids = part(t.target, SqlCharts), part(t.state.ids, Ids)
    for code, uuid in zip(codes, uuids, strict=True):
        chart = sql_chart_of(code, t.resolved(spaces.PATHS))
        mine.sql_charts[chart.slug] = chart
        if uuid:
            ids.sql_charts[t.key(chart.slug)] = uuid


def inventory(state: StateBase, inv: InventoryBase) -> None:
    mine = part(inv, Target)
    for name, p in projects(state, SqlCharts).items():
        mine.sql_charts |= {f"{name}:{c.slug}": digest(c.compared()) for c in p.sql_charts.values()}


def plan(ctx: PlanContext[Any, Target]) -> None:
    for project in ctx.projects:
        for slug, chart in sorted(ctx.source(project, SqlCharts).sql_charts.items()):
            key = f"{project}:{slug}"
            action = Action(id=action_id("ld.sqlchart", key), kind="ld.sqlchart", object=key,
                            op="create", params={"project": project, "slug": slug,
                                                 "space": chart.space,
                                                 "blob": ctx.snapshot.blobs[f"ld_sqlchart:{key}"]})  # fmt: skip
            if ctx.old:
                ctx.blocked(action.id, action.kind, action.object, NO_SQL_CHARTS)
                continue
            if spaces.space_missing(ctx, project, chart.space, action):
                continue
            ctx.compare(action, ctx.inv.sql_charts.get(key), digest(chart.compared()),
                       [action_id("ld.space", spaces.space_key(project, chart.space))])  # fmt: skip


async def upload(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> None:
    name, slug = a.params["project"], a.params["slug"]
    body = await spaces.upload_body(ctx, a)
    result = await client.upsert_sql_chart(ctx.project(name), slug, body)
    if result.uuid:
        ctx.ids.sql_charts[f"{name}:{slug}"] = result.uuid
    await ctx.done(a, result.uuid)


def hold(view: ViewBase, target: StateBase) -> list[str]:
    """Into 0.1471, none (it has no SQL charts); into a flat server, none in a child space."""
    notes = []
    for name, p in projects(view, SqlCharts).items():
        if target.space_model == ISPRIVATE:
            if p.sql_charts:
                notes.append(f"{name}: {len(p.sql_charts)} SQL charts are not compared: the "
                             "target serves 0.1471, which has no equivalent")  # fmt: skip
            p.sql_charts = {}
        p.sql_charts = {k: c for k, c in p.sql_charts.items()
                        if not spaces.in_child(target, name, c.space)}  # fmt: skip
    return notes


def rows(name: str, project: SqlCharts) -> dict[str, Any]:
    return {f"{name}:{k}": c.compared() for k, c in project.sql_charts.items()}


HANDLER = Handler(
    name="sql charts",
    project=SqlCharts,
    uuids=Ids,
    target=Target,
    ids=("ld.sqlchart",),  # its action ids' kinds
    jobs={"ld_sql_charts": list_sql_charts},
    per_project=("ld_sql_charts",),
    load=load,
    read=read,
    inventory=inventory,
    plan=plan,
    actions={"ld.sqlchart": ActionKind(upload)},
    selectors={"sqlchart": by_key("ld.sqlchart")},
    hold=hold,
    rows=rows,
    optional=True,
)
