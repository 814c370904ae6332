"""Charts, by slug, through the content-as-code download and upload. Each is kept with its
space's path (read from the same snapshot, since the download's `spaceSlug` is lossy) and
the slug of the dashboard it is saved in. Backup is incremental by `updatedAt`; restore
uploads into the target space's slug with `skipSpaceCreate` (an upsert by slug: sending it
again after a lost answer writes the same).

A chart saved in a dashboard is planned by the dashboards handler (it reads the dashboard it
is saved in, which comes after charts), through `plan_chart`. What a chart or dashboard
shares when its slug is taken is here too (`place`, `slug_of`, `taken`: `SLUG-restored`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import EXPORT, Job, JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.handlers import spaces
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

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

BATCH = 50  # ids per content download (they go in the query string)
SLUGS = "chart"  # what `resolved` keeps a project's chart slugs under, by source uuid
ENTRY = "ld_chart"  # its snapshot entries' type


class Chart(BaseModel):
    slug: str
    space: list[str]  # the space's path
    dashboard: str | None = None  # the slug of the dashboard it is saved in
    body: dict[str, Any]  # the content as code, less what VOLATILE names

    def compared(self) -> dict[str, Any]:
        return {**self.body, "space": self.space, "dashboard": self.dashboard}


class Charts(BaseModel):
    """Its part of a project, on both sides."""

    charts: dict[str, Chart] = Field(default_factory=dict)  # slug -> chart


class Ids(BaseModel):
    charts: dict[str, str] = Field(default_factory=dict)  # "<project>:<slug>" -> uuid


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"charts": "ld.chart"}

    charts: dict[str, str] = Field(default_factory=dict)  # "<project>:<slug>" -> digest


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


def load(r: SnapshotReader, view: ViewBase) -> None:
    for o in r.entries("ld_chart"):
        name = project_of(o)
        chart = chart_of(r.blob(o), r.resolved(spaces.PATHS, name))
        part(view.projects[name], Charts).charts[chart.slug] = chart
        view.blobs[f"ld_chart:{name}:{chart.slug}"] = o.blob or ""
        r.resolved(SLUGS, name)[o.source_id or ""] = chart.slug


async def read(t: TargetReader) -> None:
    codes = await t.client.charts_code(t.uuid)
    uuids = {r.slug: r.uuid for r in await t.client.chart_list(t.uuid) if r.slug}
    mine, ids = part(t.target, Charts), part(t.state.ids, Ids)
    for code in codes:
        chart = chart_of(code, t.resolved(spaces.PATHS))
        mine.charts[chart.slug] = chart
        if chart.slug in uuids:
            ids.charts[t.key(chart.slug)] = uuids[chart.slug]


def inventory(state: StateBase, inv: InventoryBase) -> None:
    mine = part(inv, Target)
    for name, p in projects(state, Charts).items():
        mine.charts |= {f"{name}:{c.slug}": digest(c.compared()) for c in p.charts.values()}


# 1.219's ChartAsCode fields that 0.1471's lacks (openapi-1.219.0.json against openapi.json);
# `contentType` too, the download's type tag, which is no content, so it goes unnamed
NEW_ONLY = ("parameters", "pivotConfig", "verification", "verified")
DROPPED = (*NEW_ONLY, "contentType")


def plan(ctx: PlanContext[Any, Target]) -> None:
    """The charts not saved in a dashboard (those are the dashboards handler's: `plan_chart`,
    before their dashboard), each into its space."""
    for project in ctx.projects:
        for _, chart in sorted(ctx.source(project, Charts).charts.items()):
            if chart.dashboard is None:
                plan_chart(ctx, project, chart, None, False)


def plan_chart(
    ctx: PlanContext[Any, Any], project: str, chart: Chart, board: str | None, there: bool
) -> None:
    """One chart's upload into its space. `board`: the slug of the dashboard it is saved in,
    as that goes up; `there`: that dashboard is on the target already, so the upload names it
    (else the dashboards handler links it once it is made). Into 0.1471, without 1.219's
    fields (`NEW_ONLY`), those it sets named in a warning."""
    key = f"{project}:{chart.slug}"
    params = {"project": project, "slug": chart.slug, "space": chart.space,
              "blob": ctx.snapshot.blobs[f"ld_chart:{key}"],
              "dashboard": board if there else None,
              "drop": list(DROPPED) if ctx.old else []}  # fmt: skip
    action = Action(
        id=action_id("ld.chart", key), kind="ld.chart", object=key, op="create", params=params
    )
    if spaces.space_missing(ctx, project, chart.space, action):
        return
    want = without(chart.compared(), DROPPED) if ctx.old else chart.compared()
    decided = place(ctx, action, chart.space, digest({**want, "dashboard": board}),
                    [action_id("ld.space", spaces.space_key(project, chart.space))],
                    part(ctx.inv, Target).charts)  # fmt: skip
    lost = set_in(chart.body, NEW_ONLY) if ctx.old else []
    if lost and decided.writes:
        warning = "; ".join(filter(None, [decided.warning, unheld(lost)]))
        ctx.add(decided.model_copy(update={"warning": warning}))


# ---------------------------------------------------------------------- slugs taken since


def place(
    ctx: PlanContext[Any, Any],
    action: Action,
    space: list[str],
    want: str,
    parents: Iterable[str],
    have: Mapping[str, str],
) -> Action:
    """Decide a chart or dashboard under the slug it goes up as: its own, unless, in a
    restore into the project the snapshot is of, that slug is taken while its space is
    not there (the space was deleted, which took what it held: the slug's holder now is
    another, left as it is). Then it comes back as `SLUG-restored` (`-2`…), named in the
    plan, and a re-run keeps the slug the first run chose (the ledger has it). Into
    another project, a slug held there is the same object's: a conflict, as ever. `have`:
    the target's of its type, digests by `<project>:<slug>`."""
    project, slug = action.params["project"], action.params["slug"]

    def rename(a: Action, digest_: str) -> Action:
        return renamed(ctx, a, digest_, have)

    copy = kept_slug(ctx, action.id)
    if copy is None and taken(ctx, have, project, slug, space):
        n, copy = 1, f"{slug}-restored"
        while have.get(f"{project}:{copy}", want) != want:
            n += 1
            copy = f"{slug}-restored-{n}"
    if copy is None:
        return ctx.compare(action, have.get(f"{project}:{slug}"), want, parents, rename)
    moved = action.model_copy(update={"params": {**action.params, "slug": copy, "taken": True}})
    decided = ctx.compare(moved, have.get(f"{project}:{copy}"), want, parents, rename)
    what = action.kind.removeprefix("ld.")
    if decided.op == "create":
        reason = (f"its space is not on the target and its slug {slug} is taken there by "
                  f"another {what}: it comes back as {copy}")  # fmt: skip
    else:
        reason = f"{decided.reason}, as {copy} (its slug {slug} is taken by another {what})"
    warning = f"links to {slug} now open the other {what}" if decided.writes else ""
    return ctx.add(decided.model_copy(update={"reason": reason, "warning": warning}))


def kept_slug(ctx: PlanContext[Any, Any], id_: str) -> str | None:
    """The new slug an earlier run of this restore gave a chart or dashboard."""
    rec = ctx.ledger.get(id_)
    return rec.detail.get("slug") if rec else None


def taken(
    ctx: PlanContext[Any, Any], have: Mapping[str, str], project: str, slug: str, space: list[str]
) -> bool:
    """A chart's or dashboard's slug is another's on the target (`place`)."""
    space_action = ctx.actions.get(action_id("ld.space", spaces.space_key(project, space)))
    gone = ctx.own_project(project) and space_action is not None and space_action.op == "create"
    return gone and f"{project}:{slug}" in have


def slug_of(ctx: PlanContext[Any, Any], kind: str, project: str, slug: str) -> str:
    """The slug a chart or dashboard of the snapshot goes up as when its own is taken
    (`place`), as planned, else as an earlier run gave it; else its own."""
    planned = ctx.actions.get(action_id(kind, f"{project}:{slug}"))
    if planned is not None and planned.params.get("taken"):
        return str(planned.params["slug"])
    return kept_slug(ctx, action_id(kind, f"{project}:{slug}")) or slug


def renamed(
    ctx: PlanContext[Any, Any], action: Action, want: str, have: Mapping[str, str]
) -> Action:
    """`--on-conflict rename`: the snapshot's chart or dashboard goes up as a copy under
    a new slug (`SLUG-restored`, then `-2`…), named in the plan; the target's stays as it
    is. A copy already there and the same (a re-run) is skipped."""
    project, slug = action.params["project"], action.params["slug"]
    n, copy = 1, f"{slug}-restored"
    while f"{project}:{copy}" in have and have[f"{project}:{copy}"] != want:
        n += 1
        copy = f"{slug}-restored-{n}"
    renamed = action.model_copy(update={"params": {**action.params, "slug": copy}})
    if have.get(f"{project}:{copy}") == want:
        return ctx.mark(renamed, "skip", f"its copy {copy} is the same on the target")
    return ctx.mark(
        renamed,
        "create",
        f"differs on the target: uploaded as a copy, {copy} (--on-conflict rename)",
    )


async def upload(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> str | None:
    name, slug = a.params["project"], a.params["slug"]
    body = without(await spaces.upload_body(ctx, a), tuple(a.params.get("drop") or ()))
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


def brings(a: Action, _actions: Mapping[str, Action]) -> Iterable[str]:
    """A selected chart saved in a dashboard comes with its link to it."""
    return [a.id + ":link"]


def hold(view: ViewBase, target: StateBase) -> list[str]:
    """What the target holds of them (`spaces.held`)."""
    notes = []
    for name, p in projects(view, Charts).items():
        p.charts, left_out = spaces.held(target, name, p.charts, "chart", NEW_ONLY, DROPPED)
        notes += left_out
    return notes


def rows(name: str, project: Charts) -> dict[str, Any]:
    return {f"{name}:{k}": c.compared() for k, c in project.charts.items()}


HANDLER = Handler(
    name="charts",
    project=Charts,
    uuids=Ids,
    target=Target,
    ids=("ld.chart",),  # its action ids' kinds
    jobs={"ld_charts": list_charts, "ld_chart_batch": download, "ld_saved_charts": download_saved},
    per_project=("ld_charts",),
    keeps=("ld_chart",),  # an unchanged chart is kept, not downloaded again
    content=("ld_chart",),
    load=load,
    read=read,
    inventory=inventory,
    plan=plan,
    actions={"ld.chart": ActionKind(upload, brings=brings)},
    selectors={"chart": by_key("ld.chart")},
    hold=hold,
    rows=rows,
)
