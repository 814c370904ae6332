"""Schedulers (scheduled deliveries, and alerts: those with thresholds), identified by 1.219's
slug where served, else by what they are on (a chart's or dashboard's slug), their name and
ordinal (`Scheduler`). Backup reads them through the
documented `GET /schedulers/{projectUuid}/logs`; restore creates them through the routes
Lightdash's web app uses, which its public spec does not declare (the client's hint says so
when a server refuses them), and updates them through the documented PATCH."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import ISPRIVATE
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.natural_keys import (
    SCHEDULER_VOLATILE,
    Scheduler,
    digest,
    project_of,
    set_in,
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


ON = {"savedChartUuid": "chart", "dashboardUuid": "dashboard", "savedSqlUuid": "sqlchart"}
KINDS = {"chart": "ld.chart", "dashboard": "ld.dashboard", "sqlchart": "ld.sqlchart"}


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


def load(r: SnapshotReader, view: SnapshotView) -> None:
    by_project: dict[str, list[dict[str, Any]]] = {}
    for o in r.entries("ld_scheduler"):
        by_project.setdefault(project_of(o), []).append(r.blob(o))
    for name, raws in by_project.items():
        slugs = {on: r.slugs.get((name, on), {}) for on in KINDS}
        for found, _ in keyed(raws, slugs):
            view.projects[name].schedulers[found.key] = found


async def read(t: TargetReader) -> None:
    def slugs(ids: dict[str, str]) -> dict[str, str]:
        prefix = t.key("")
        return {v: k[len(prefix) :] for k, v in ids.items() if k.startswith(prefix)}

    ids = t.state.ids
    on = {"chart": slugs(ids.charts), "dashboard": slugs(ids.dashboards),
          "sqlchart": slugs(ids.sql_charts)}  # fmt: skip
    # keyed as the snapshot's are: by slug only when both serve slugs (on_target)
    by_slug = any(s.slug for s in t.view.projects[t.project].schedulers.values())
    for found, raw in keyed(await t.client.schedulers(t.uuid), on):
        key = found.key if by_slug else found.natural
        t.target.schedulers[key] = found
        t.state.ids.schedulers[t.key(key)] = raw["schedulerUuid"]


def on_target(s: Scheduler, modern: bool) -> str:
    """The key a snapshot's scheduler has on the target: its slug into a 1.219 server (which
    keeps the slug a create sends), else what 0.1471 holds too, its resource, name and
    ordinal. The target's read keys its own the same way (`read`)."""
    return s.key if modern else s.natural


def plan(ctx: PlanContext) -> None:
    modern = ctx.inv.space_model != ISPRIVATE
    for project in sorted(ctx.inv.ids.projects):
        for _, s in sorted(ctx.view.projects[project].schedulers.items()):
            full = f"{project}:{on_target(s, modern)}"
            kind = KINDS[s.on]
            on = action_id(kind, f"{project}:{s.resource}")
            # on what it is on as it goes up: under another slug when its own was taken
            there = s.model_copy(update={"resource": ctx.slug_of(kind, project, s.resource)})
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


async def write(ctx: ApplyContext, client: LightdashClient, a: Action) -> None:
    p = a.params
    ids = {"chart": ctx.ids.charts, "dashboard": ctx.ids.dashboards,
           "sqlchart": ctx.ids.sql_charts}[p["on"]]  # fmt: skip
    resource = ids.get(f"{p['project']}:{p['resource']}")
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


def rows(name: str, project: Project) -> dict[str, Any]:
    return {f"{name}:{k}": s.compared() for k, s in project.schedulers.items()}


HANDLER = Handler(
    name="schedulers",
    ids=("ld.scheduler",),  # its action ids' kinds
    jobs={"ld_schedulers": list_schedulers},
    per_project=("ld_schedulers",),
    load=load,
    read=read,
    plan=plan,
    actions={"ld.scheduler": ActionKind(write)},
    selectors={"scheduler": by_key("ld.scheduler")},
    rows=rows,
)
