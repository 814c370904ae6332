"""Charts, by slug, through the content-as-code download and upload. Each is kept with its
space's path (read from the same snapshot, since the download's `spaceSlug` is lossy) and
the slug of the dashboard it is saved in. Backup is incremental by `updatedAt`; restore
uploads into the target space's slug with `skipSpaceCreate` (an upsert by slug: sending it
again after a lost answer writes the same)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import EXPORT, Job, JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import ISPRIVATE
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.natural_keys import (
    Chart,
    content_of,
    digest,
    project_of,
    set_in,
    space_key,
    unheld,
    without,
)
from omnimigrate.platforms.lightdash.planning import by_key

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import Project, SnapshotView
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

BATCH = 50  # ids per content download (they go in the query string)


def chart_of(code: dict[str, Any], space_paths: dict[str, list[str]]) -> Chart:
    space = space_paths.get(code["spaceSlug"], [code["spaceSlug"]])
    return Chart(
        slug=code["slug"], space=space, dashboard=code.get("dashboardSlug"), body=content_of(code)
    )


async def list_charts(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    """The list says what changed since the last snapshot; only that is downloaded."""
    entries, changed = [], []
    for ref in await client.chart_list(args["project"]):
        kept = ctx.kept("ld_chart", f"{args['name']}:{ref.slug}", ref)
        if kept:
            entries.append(kept)
        else:
            changed.append(ref)
    children = [
        Job(kind="ld_chart_batch", priority=EXPORT,
            args={**args, "ids": ",".join(r.uuid for r in batch), "slugs": ",".join(r.slug or "" for r in batch)})
        for batch in (changed[i : i + BATCH] for i in range(0, len(changed), BATCH))
    ]  # fmt: skip
    return JobResult(entries=entries, children=children)


async def download(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    ids = args["ids"].split(",")
    codes = await client.charts_code(args["project"], ids)
    ctx.exports += len(codes)
    uuids = dict(zip(args["slugs"].split(","), ids, strict=True))  # the code has no uuid
    entries = [
        await ctx.entry("ld_chart", f"{args['name']}:{code['slug']}", ctx.kept_content(code),
                        source_id=uuids.get(code["slug"]), updated_at=code.get("updatedAt"),
                        refs={"project": args["name"]})
        for code in codes
    ]  # fmt: skip
    return JobResult(entries=entries)


async def download_saved(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    """The charts saved inside dashboards, which the charts list leaves out: downloaded by the
    slugs the dashboards' tiles name, keeping those the code says are saved in a dashboard
    (the others came with the list). Their code has no uuid, and no list gives it."""
    codes = await client.charts_code(args["project"], args["slugs"].split(","))
    saved = [c for c in codes if c.get("dashboardSlug")]
    ctx.exports += len(saved)
    entries = [
        await ctx.entry("ld_chart", f"{args['name']}:{code['slug']}", ctx.kept_content(code),
                        updated_at=code.get("updatedAt"),
                        refs={"project": args["name"], "dashboard": code["dashboardSlug"]})
        for code in saved
    ]  # fmt: skip
    return JobResult(entries=entries)


def load(r: SnapshotReader, view: SnapshotView) -> None:
    for o in r.entries("ld_chart"):
        name = project_of(o)
        chart = chart_of(r.blob(o), r.space_paths.get(name, {}))
        view.projects[name].charts[chart.slug] = chart
        view.blobs[f"ld_chart:{name}:{chart.slug}"] = o.blob or ""
        r.slugs.setdefault((name, "chart"), {})[o.source_id or ""] = chart.slug


async def read(t: TargetReader) -> None:
    codes = await t.client.charts_code(t.uuid)
    uuids = {r.slug: r.uuid for r in await t.client.chart_list(t.uuid) if r.slug}
    for code in codes:
        chart = chart_of(code, t.space_paths)
        t.target.charts[chart.slug] = chart
        if chart.slug in uuids:
            t.state.ids.charts[t.key(chart.slug)] = uuids[chart.slug]


# 1.219's ChartAsCode fields that 0.1471's lacks (openapi-1.219.0.json against openapi.json);
# `contentType` too, the download's type tag, which is no content, so it goes unnamed
NEW_ONLY = ("parameters", "pivotConfig", "verification", "verified")
DROPPED = (*NEW_ONLY, "contentType")


def plan(ctx: PlanContext) -> None:
    """A chart saved in a dashboard the target lacks goes into its space first: the
    dashboard's tiles need it, and the dashboards handler links it afterwards. Into 0.1471,
    without 1.219's fields (`NEW_ONLY`), those it sets named in a warning."""
    old = ctx.inv.space_model == ISPRIVATE
    for project in sorted(ctx.inv.ids.projects):
        src = ctx.view.projects[project]
        for slug, chart in sorted(src.charts.items()):
            key = f"{project}:{slug}"
            board = ctx.slug_of("ld.dashboard", project, chart.dashboard or "") or None
            # a dashboard that comes back under a new slug is not the one of its slug there
            moving = (
                board is not None
                and board in src.dashboards
                and ctx.taken("ld.dashboard", project, board, src.dashboards[board].space)
            )
            board_there = (
                board is not None and not moving and f"{project}:{board}" in ctx.inv.dashboards
            )
            params = {"project": project, "slug": slug, "space": chart.space,
                      "blob": ctx.view.blobs[f"ld_chart:{key}"],
                      "dashboard": board if board_there else None,
                      "drop": list(DROPPED) if old else []}  # fmt: skip
            action = Action(
                id=action_id("ld.chart", key),
                kind="ld.chart",
                object=key,
                op="create",
                params=params,
            )
            if ctx.space_missing(project, chart.space, action):
                continue
            want = without(chart.compared(), DROPPED) if old else chart.compared()
            decided = ctx.place(action, chart.space, digest({**want, "dashboard": board}),
                                [action_id("ld.space", space_key(project, chart.space))])  # fmt: skip
            lost = set_in(chart.body, NEW_ONLY) if old else []
            if lost and decided.writes:
                warning = "; ".join(filter(None, [decided.warning, unheld(lost)]))
                ctx.add(decided.model_copy(update={"warning": warning}))


async def upload(ctx: ApplyContext, client: LightdashClient, a: Action) -> str | None:
    name, slug = a.params["project"], a.params["slug"]
    body = without(await ctx.upload_body(a), tuple(a.params.get("drop") or ()))
    body.pop("dashboardSlug", None)
    if a.params["dashboard"]:
        body["dashboardSlug"] = a.params["dashboard"]
    result = await client.upsert_chart(ctx.project(name), slug, body)
    if result.uuid:
        ctx.ids.charts[f"{name}:{slug}"] = result.uuid
    await ctx.done(a, result.uuid, **moved(a))
    return moved_warning(a)


def moved(a: Action) -> dict[str, str]:
    """The slug a chart or dashboard went up as when its own was taken: a re-run keeps it."""
    return {"slug": a.params["slug"]} if a.params.get("taken") else {}


def moved_warning(a: Action) -> str | None:
    """The restore report names the new slug (`PlanContext.place`)."""
    if not a.params.get("taken"):
        return None
    old = a.object.split(":", 1)[1]
    return f"came back as {a.params['slug']}: {old} is another's on the target ({a.warning})"


def rows(name: str, project: Project) -> dict[str, Any]:
    return {f"{name}:{k}": c.compared() for k, c in project.charts.items()}


HANDLER = Handler(
    name="charts",
    ids=("ld.chart",),  # its action ids' kinds
    jobs={"ld_charts": list_charts, "ld_chart_batch": download, "ld_saved_charts": download_saved},
    per_project=("ld_charts",),
    keeps=("ld_chart",),  # an unchanged chart is kept, not downloaded again
    content=("ld_chart",),
    load=load,
    read=read,
    plan=plan,
    actions={"ld.chart": ActionKind(upload)},
    selectors={"chart": by_key("ld.chart")},
    rows=rows,
)
