"""SQL charts (1.219's content type: a saved SQL query and its visualisation), by slug, as
charts are: backed up through `GET code/sqlCharts` (paged by the answer's offset), kept with
their space's path, restored through `POST code/sqlCharts/{slug}` into the target space's
slug with `skipSpaceCreate`. Their code has no uuid, which the schedulers on them name, so
each is looked up by slug (`GET sqlRunner/saved/slug/{slug}`), on both sides. 0.1471 has no
SQL charts: a snapshot's are blocked against it, naming the target's generation."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import INHERIT
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.natural_keys import (
    SqlChart,
    content_of,
    digest,
    project_of,
    space_key,
)
from omnimigrate.platforms.lightdash.planning import by_key

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import Project, SnapshotView
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

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


def load(r: SnapshotReader, view: SnapshotView) -> None:
    for o in r.entries("ld_sqlchart"):
        name = project_of(o)
        chart = sql_chart_of(r.blob(o), r.space_paths.get(name, {}))
        view.projects[name].sql_charts[chart.slug] = chart
        view.blobs[f"ld_sqlchart:{name}:{chart.slug}"] = o.blob or ""
        r.slugs.setdefault((name, "sqlchart"), {})[o.source_id or ""] = chart.slug


async def read(t: TargetReader) -> None:
    codes = await t.client.sql_charts_code(t.uuid)
    uuids = await asyncio.gather(
        *(t.next_client().sql_chart_uuid(t.uuid, c["slug"]) for c in codes)
    )
    for code, uuid in zip(codes, uuids, strict=True):
        chart = sql_chart_of(code, t.space_paths)
        t.target.sql_charts[chart.slug] = chart
        if uuid:
            t.state.ids.sql_charts[t.key(chart.slug)] = uuid


def plan(ctx: PlanContext) -> None:
    for project in sorted(ctx.inv.ids.projects):
        for slug, chart in sorted(ctx.view.projects[project].sql_charts.items()):
            key = f"{project}:{slug}"
            action = Action(id=action_id("ld.sqlchart", key), kind="ld.sqlchart", object=key,
                            op="create", params={"project": project, "slug": slug,
                                                 "space": chart.space,
                                                 "blob": ctx.view.blobs[f"ld_sqlchart:{key}"]})  # fmt: skip
            if ctx.inv.space_model != INHERIT:
                ctx.blocked(action.id, action.kind, action.object, NO_SQL_CHARTS)
                continue
            if ctx.space_missing(project, chart.space, action):
                continue
            ctx.compare(action, ctx.inv.sql_charts.get(key), digest(chart.compared()),
                       [action_id("ld.space", space_key(project, chart.space))])  # fmt: skip


async def upload(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    name, slug = a.params["project"], a.params["slug"]
    result = await client.upsert_sql_chart(ctx.project(name), slug, await ctx.upload_body(a))
    if result.uuid:
        ctx.ids.sql_charts[f"{name}:{slug}"] = result.uuid
    await ctx.done(a, result.uuid)


def rows(name: str, project: Project) -> dict[str, Any]:
    return {f"{name}:{k}": c.compared() for k, c in project.sql_charts.items()}


HANDLER = Handler(
    name="sql charts",
    ids=("ld.sqlchart",),  # its action ids' kinds
    jobs={"ld_sql_charts": list_sql_charts},
    per_project=("ld_sql_charts",),
    load=load,
    read=read,
    plan=plan,
    actions={"ld.sqlchart": ActionKind(upload)},
    selectors={"sqlchart": by_key("ld.sqlchart")},
    rows=rows,
    optional=True,
)
