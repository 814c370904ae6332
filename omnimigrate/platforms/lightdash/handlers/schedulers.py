"""Schedulers (scheduled deliveries, and alerts: those with thresholds), identified by 1.219's
slug where served, else by what they are on (a chart's or dashboard's slug), their name and
ordinal (`Scheduler`). Backup reads them through the
documented `GET /schedulers/{projectUuid}/logs`; restore creates them through the routes
Lightdash's web app uses, which its public spec does not declare (the client's hint says so
when a server refuses them), and updates them through the documented PATCH."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import ISPRIVATE
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.handlers import charts, dashboards, sqlcharts
from omnimigrate.platforms.lightdash.natural_keys import (
    digest,
    project_of,
    projects,
    set_in,
    unheld,
    unheld_note,
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

SCHEDULER_VOLATILE = (
    "schedulerUuid", "createdBy", "createdAt", "updatedAt", "savedChartUuid", "dashboardUuid",
    "savedSqlUuid",
    "targets", "slug",  # 1.219's slug: kept apart (Scheduler.slug), sent on a create
    # 1.219's read-only names and derived fields (what the scheduler is on says them)
    "savedChartName", "dashboardName", "savedSqlName", "createdByName", "latestRun",
    "projectName", "projectUuid", "projectSchedulerTimezone",
)  # fmt: skip


class Scheduler(BaseModel):
    """Keyed by 1.219's slug where the source serves it (unique in a project), else by its
    `natural` identity: what it is on (`chart`, `dashboard` or `sqlchart`, by slug), its name
    and, when more than one there has that name, its ordinal among them by creation (`#2`,
    `#3`): (resource, name) alone is not unique. Both are kept: a restore between two 1.219
    servers pairs by slug (sent on a create, so the copy keeps it), one across generations by
    the natural identity, which both hold, so either converges."""

    on: str
    resource: str  # slug
    name: str
    ordinal: int = 1
    slug: str | None = None  # 1.219's
    body: dict[str, Any]  # SchedulerBase's fields, less SCHEDULER_VOLATILE
    targets: list[str]  # "slack:<channel>" or "email:<address>", sorted

    @property
    def natural(self) -> str:
        tail = f"#{self.ordinal}" if self.ordinal > 1 else ""
        return f"{self.on}:{self.resource}:{self.name}{tail}"

    @property
    def key(self) -> str:
        return self.slug or self.natural

    def compared(self) -> dict[str, Any]:
        return {**self.body, "targets": self.targets}


class Schedulers(BaseModel):
    """Its part of a project, on both sides."""

    schedulers: dict[str, Scheduler] = Field(default_factory=dict)  # Scheduler.key -> it


class Ids(BaseModel):
    schedulers: dict[str, str] = Field(default_factory=dict)  # "<project>:<key>" -> uuid


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"schedulers": "ld.scheduler"}

    schedulers: dict[str, str] = Field(default_factory=dict)  # "<project>:<key>" -> digest


def targets_of(raw: list[dict[str, Any]]) -> list[str]:
    """A scheduler's targets in either shape: Slack channels and email recipients."""
    out = []
    for t in raw:
        if t.get("channel"):
            out.append(f"slack:{t['channel']}")
        elif t.get("recipient"):
            out.append(f"email:{t['recipient'].lower()}")
        else:
            raise ValueError(f"a scheduler target with neither `channel` nor `recipient`: {t}")
    return sorted(out)


ON = {"savedChartUuid": charts.SLUGS, "dashboardUuid": dashboards.SLUGS,
      "savedSqlUuid": sqlcharts.SLUGS}  # fmt: skip
KINDS = {charts.SLUGS: "ld.chart", dashboards.SLUGS: "ld.dashboard", sqlcharts.SLUGS: "ld.sqlchart"}


def on_ids(ids: Any) -> dict[str, dict[str, str]]:
    """The target uuids of what a scheduler may be on, by what it is on."""
    return {charts.SLUGS: part(ids, charts.Ids).charts,
            dashboards.SLUGS: part(ids, dashboards.Ids).dashboards,
            sqlcharts.SLUGS: part(ids, sqlcharts.Ids).sql_charts}  # fmt: skip


def scheduler_of(raw: dict[str, Any], slugs: dict[str, dict[str, str]]) -> Scheduler | None:
    """`slugs`: per what it is on (chart, dashboard, sqlchart), uuid -> slug. None when what
    it is on is not known, or is a data app (1.219's `appUuid`, which omnimigrate does not
    back up: its `/logs` lists them with the others)."""
    field = next((f for f in ON if raw.get(f)), None)
    if field is None and raw.get("appUuid"):  # 1.219 lists those on data apps: not kept
        return None
    if field is None:
        raise ValueError(
            f"scheduler {raw.get('name')!r} names none of savedChartUuid, dashboardUuid, "
            "savedSqlUuid"
        )
    on = ON[field]
    slug = slugs.get(on, {}).get(raw[field])
    if slug is None:
        return None
    body = {k: v for k, v in raw.items() if k not in SCHEDULER_VOLATILE and v is not None}
    if body.get("plainTextEmail") is False:  # 1.219's default, what 0.1471 does (HTML email)
        del body["plainTextEmail"]
    return Scheduler(
        on=on,
        resource=slug,
        name=raw["name"],
        slug=raw.get("slug"),
        body=body,
        targets=targets_of(raw.get("targets") or []),
    )


def keyed(
    raws: list[dict[str, Any]], slugs: dict[str, dict[str, str]]
) -> list[tuple[Scheduler, dict[str, Any]]]:
    """Each scheduler with its ordinal: those of one name on one resource are numbered by
    creation (then uuid, for a tie), so the source and the restored target agree."""
    found = [(s, raw) for raw in raws if (s := scheduler_of(raw, slugs))]
    found.sort(key=lambda p: (p[1].get("createdAt") or "", p[1].get("schedulerUuid") or ""))
    seen: dict[str, int] = {}
    out = []
    for s, raw in found:
        base = s.natural
        seen[base] = seen.get(base, 0) + 1
        out.append((s.model_copy(update={"ordinal": seen[base]}), raw))
    return out


async def list_schedulers(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    entries = []
    for s in await client.schedulers(args["project"]):
        refs = {"project": args["name"], "chart": s.get("savedChartUuid"),
                "dashboard": s.get("dashboardUuid"), "sqlchart": s.get("savedSqlUuid")}  # fmt: skip
        key = f"{args['name']}:{s['schedulerUuid']}"
        entries.append(
            await ctx.entry("ld_scheduler", key, s, source_id=s["schedulerUuid"], refs=refs)
        )
    return JobResult(entries=entries)


def load(r: SnapshotReader, view: ViewBase) -> None:
    by_project: dict[str, list[dict[str, Any]]] = {}
    for o in r.entries("ld_scheduler"):
        by_project.setdefault(project_of(o), []).append(r.blob(o))
    for name, raws in by_project.items():
        slugs = {on: r.resolved(on, name) for on in KINDS}
        mine = part(view.projects[name], Schedulers)
        for found, _ in keyed(raws, slugs):
            mine.schedulers[found.key] = found


async def read(t: TargetReader) -> None:
    def slugs(ids: dict[str, str]) -> dict[str, str]:
        prefix = t.key("")
        return {v: k[len(prefix) :] for k, v in ids.items() if k.startswith(prefix)}

    on = {kind: slugs(ids) for kind, ids in on_ids(t.state.ids).items()}
    # keyed as the snapshot's are: by slug only when both serve slugs (on_target)
    by_slug = any(s.slug for s in part(t.source, Schedulers).schedulers.values())
    mine, ids = part(t.target, Schedulers), part(t.state.ids, Ids)
    for found, raw in keyed(await t.client.schedulers(t.uuid), on):
        key = found.key if by_slug else found.natural
        mine.schedulers[key] = found
        ids.schedulers[t.key(key)] = raw["schedulerUuid"]


def inventory(state: StateBase, inv: InventoryBase) -> None:
    mine = part(inv, Target)
    for name, p in projects(state, Schedulers).items():
        mine.schedulers |= {f"{name}:{k}": digest(s.compared()) for k, s in p.schedulers.items()}


def on_target(s: Scheduler, modern: bool) -> str:
    """The key a snapshot's scheduler has on the target: its slug into a 1.219 server (which
    keeps the slug a create sends), else what 0.1471 holds too, its resource, name and
    ordinal. The target's read keys its own the same way (`read`)."""
    return s.key if modern else s.natural


def plan(ctx: PlanContext[Any, Target]) -> None:
    modern = not ctx.old
    for project in ctx.projects:
        for _, s in sorted(ctx.source(project, Schedulers).schedulers.items()):
            full = f"{project}:{on_target(s, modern)}"
            kind = KINDS[s.on]
            on = action_id(kind, f"{project}:{s.resource}")
            # on what it is on as it goes up: under another slug when its own was taken
            there = s.model_copy(
                update={"resource": charts.slug_of(ctx, kind, project, s.resource)}
            )
            params = {"project": project, "key": on_target(there, modern), "on": s.on,
                      "resource": there.resource, "name": s.name, "ordinal": s.ordinal,
                      "slug": s.slug, "body": s.body, "targets": s.targets}  # fmt: skip
            lost = set_in(s.body, NEW_ONLY) if not modern else []
            if not modern:  # what the target holds after, so a re-run converges
                s = held_by_old(s)
                params["body"] = s.body
            action = Action(id=action_id("ld.scheduler", full), kind="ld.scheduler", object=full,
                            op="create", params=params)  # fmt: skip
            have = ctx.inv.schedulers.get(f"{project}:{params['key']}")
            decided = ctx.compare(action, have, digest(s.compared()), [on])
            if lost and decided.writes:  # restored, less what 0.1471 cannot hold: named
                ctx.add(decided.model_copy(update={"warning": lost_warning(lost)}))


# 1.219's SchedulerBase and SchedulerOptions fields that 0.1471's lack (openapi-1.219.0.json
# against openapi.json), less the read-only names, ids and slug SCHEDULER_VOLATILE drops
# why verify leaves a field out beyond "which has no equivalent" (`unheld_note`)
WHY = {"plainTextEmail": ("which sends HTML email",)}
NEW_ONLY = ("plainTextEmail", "parameters", "options.asAttachment", "options.exportPivotedData",
            "options.xlsxFileLayout", "options.pagePerTab", "options.showFilters")  # fmt: skip
PLAIN_TEXT = (
    "plainTextEmail: true (1.219's plain-text email) has no equivalent in the target's 0.1471, "
    "which sends HTML email: it is restored without it"
)


def lost_warning(lost: list[str]) -> str:
    rest = [f for f in lost if f != "plainTextEmail"]
    return "; ".join([*([PLAIN_TEXT] if "plainTextEmail" in lost else []),
                      *([unheld(rest)] if rest else [])])  # fmt: skip


def held_by_old(s: Scheduler) -> Scheduler:
    """A scheduler as 0.1471 holds it: without 1.219's fields (`plainTextEmail`: an HTML
    email)."""
    return s.model_copy(update={"body": without(s.body, NEW_ONLY)})


async def write(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> None:
    p = a.params
    resource = on_ids(ctx.ids)[p["on"]].get(f"{p['project']}:{p['resource']}")
    if resource is None:
        raise RestoreError(
            f"the {p['on']} {p['resource']} of scheduler {p['key']} is not on the target"
        )
    targets = [
        {"channel": t[6:]} if t.startswith("slack:") else {"recipient": t[6:]} for t in p["targets"]
    ]
    body = {**p["body"], "targets": targets}
    existing = ctx.ids.schedulers.get(f"{p['project']}:{p['key']}")
    if a.op == "update" and existing:
        await client.update_scheduler(existing, body)
    else:
        existing = await client.create_scheduler(
            ctx.project(p["project"]),
            (p["on"], resource),
            body,
            ordinal=p.get("ordinal", 1),
            slug=p.get("slug"),
        )
    await ctx.done(a, existing)


def hold(view: ViewBase, target: StateBase) -> list[str]:
    """Keyed as the target's read keys them (by slug only between two 1.219 servers); none on
    what the target cannot hold (that content's `hold` left it out: SQL charts into 0.1471,
    what is in a child space of a flat server); into 0.1471, without 1.219's fields."""
    modern, notes = target.space_model != ISPRIVATE, []
    for name, p in projects(view, Schedulers).items():
        held: dict[str, dict[str, Any]] = {charts.SLUGS: part(view.projects[name], charts.Charts).charts,
                dashboards.SLUGS: part(view.projects[name], dashboards.Dashboards).dashboards,
                sqlcharts.SLUGS: part(view.projects[name], sqlcharts.SqlCharts).sql_charts}  # fmt: skip
        p.schedulers = {on_target(s, modern): s for s in p.schedulers.values()}
        on_sql = [k for k, s in p.schedulers.items() if s.on == sqlcharts.SLUGS]
        if not modern and on_sql:
            notes.append(f"{name}: {len(on_sql)} schedulers on SQL charts are not compared: the "
                         "target serves 0.1471, which has no equivalent")  # fmt: skip
        p.schedulers = {k: s for k, s in p.schedulers.items() if s.resource in held[s.on]}
        if modern:
            continue
        named: dict[str, int] = {}
        for k, sch in p.schedulers.items():
            for f in set_in(sch.body, NEW_ONLY):
                named[f] = named.get(f, 0) + 1
            p.schedulers[k] = held_by_old(sch)
        notes += [
            unheld_note(name, "scheduler", f, n, *WHY.get(f, ())) for f, n in sorted(named.items())
        ]
    return notes


def rows(name: str, project: Schedulers) -> dict[str, Any]:
    return {f"{name}:{k}": s.compared() for k, s in project.schedulers.items()}


HANDLER = Handler(
    name="schedulers",
    project=Schedulers,
    uuids=Ids,
    target=Target,
    ids=("ld.scheduler",),  # its action ids' kinds
    jobs={"ld_schedulers": list_schedulers},
    per_project=("ld_schedulers",),
    load=load,
    read=read,
    inventory=inventory,
    plan=plan,
    # it comes with a selected chart, dashboard or SQL chart it is on
    actions={"ld.scheduler": ActionKind(write, follows=True)},
    selectors={"scheduler": by_key("ld.scheduler")},
    hold=hold,
    rows=rows,
)
