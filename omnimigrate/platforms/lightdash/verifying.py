"""Verify for Lightdash: read the target's projects as restore reads them, then compare, per
handler and natural key, every field restore writes (each handler's `rows`, the same
function on both sides): group members; project roles; each space's private flag and user
and group access; each chart's and dashboard's content as code with its space (every tile,
tab and filter); each scheduler's settings and targets.

Across generations verify compares what the target's can hold (`restorable`): into 0.1471,
the first of each of 1.219's attribute value lists, no `projectMemberAccessRole`, no SQL
charts (nor schedulers on them), none of 1.219's chart, dashboard and scheduler fields
0.1471's spec lacks (`parameters`, `pivotConfig`, `config`, `plainTextEmail`, …); into a flat server, no child space nor its content. What is
left out is named in the report's notes, as the plan named it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from omnimigrate.engine.verify import TypeReport, VerifyReport
from omnimigrate.http.transport import key_stats
from omnimigrate.platforms.lightdash.client import ISPRIVATE, LightdashClient
from omnimigrate.platforms.lightdash.handler import Handler
from omnimigrate.platforms.lightdash.handlers import charts, dashboards, schedulers
from omnimigrate.platforms.lightdash.handlers.attributes import first_values
from omnimigrate.platforms.lightdash.handlers.schedulers import on_target
from omnimigrate.platforms.lightdash.natural_keys import (
    Project,
    SnapshotView,
    TargetState,
    set_in,
    without,
)


def compare(rows: TypeReport, want: dict[str, Any], have: dict[str, Any]) -> None:
    for key, value in sorted(want.items()):
        rows.checked += 1
        if key in have:
            rows.check_all(key, value, have[key])
        else:
            rows.missing(key)
    rows.extras += sorted(set(have) - set(want))


def sides(handler: Handler, view: SnapshotView, target: TargetState) -> tuple[dict, dict]:
    """(the snapshot's rows, the target's) for one handler."""
    if handler.org_rows:
        return handler.org_rows(view), handler.org_rows(target)
    want: dict[str, Any] = {}
    have: dict[str, Any] = {}
    rows = handler.rows or (lambda _name, _project: {})
    for name, project in view.projects.items():
        want |= rows(name, project)
        if name in target.projects:
            have |= rows(name, target.projects[name])
    return want, have


def restorable(view: SnapshotView, target: TargetState) -> tuple[SnapshotView, list[str]]:
    """The snapshot as the target's generation can hold it, and what that leaves out."""
    kept = view.model_copy(deep=True)
    notes: list[str] = []
    old = target.space_model == ISPRIVATE
    if old:
        several = sorted(n for n, a in kept.attributes.items()
                         if max(map(len, [a.defaults, *a.users.values(), *a.groups.values()]), default=0) > 1)  # fmt: skip
        for name in several:
            kept.attributes[name] = first_values(kept.attributes[name])
        if several:
            notes.append(f"user attributes {', '.join(several)}: the target (0.1471) holds one "
                         "value each, so the first of each list is compared")  # fmt: skip
    for name, p in kept.projects.items():
        # keyed as the target's read keys them: by slug only between two 1.219 servers
        p.schedulers = {on_target(s, not old): s for s in p.schedulers.values()}
        if old:
            roles = sorted(k for k, s in p.spaces.items() if s.member_role)
            for k in roles:
                p.spaces[k].member_role = None
            on_sql = [k for k, s in p.schedulers.items() if s.on == "sqlchart"]
            if p.sql_charts or roles:
                notes.append(f"{name}: {len(p.sql_charts)} SQL charts, {len(on_sql)} schedulers "
                             f"on them and {len(roles)} projectMemberAccessRole(s) are not "
                             "compared: the target serves 0.1471, which has no equivalent")  # fmt: skip
            p.sql_charts = {}
            p.schedulers = {k: s for k, s in p.schedulers.items() if k not in on_sql}
            notes += unheld_notes(name, p)
        if name in target.flat:
            left = leave_children(p)
            if left:
                notes.append(f"{name}: {left} child spaces and their content are not compared: "
                             "the target is flat (0.1471 without nested spaces)")  # fmt: skip
    return kept, notes


def unheld_notes(name: str, p: Project) -> list[str]:
    """Drop 1.219's fields a 0.1471 target cannot hold from `p`'s charts, dashboards and
    schedulers, as the plan did; a note for each field some of them set."""
    named: Counter[tuple[str, str]] = Counter()
    for c in p.charts.values():
        named.update(("chart", f) for f in set_in(c.body, charts.NEW_ONLY))
        c.body = without(c.body, charts.DROPPED)
    for d in p.dashboards.values():
        named.update(("dashboard", f) for f in set_in(d.body, dashboards.NEW_ONLY))
        d.body = without(d.body, dashboards.DROPPED)
    for k, sch in p.schedulers.items():
        named.update(("scheduler", f) for f in set_in(sch.body, schedulers.NEW_ONLY))
        p.schedulers[k] = schedulers.held_by_old(sch)
    return [f"{name}: the {field} of {n} {kind}(s) is not compared: the target serves 0.1471, "
            + ("which sends HTML email" if field == "plainTextEmail" else "which has no equivalent")
            for (kind, field), n in sorted(named.items())]  # fmt: skip


def leave_children(p: Project) -> int:
    """Drop the child spaces of a project and what is in them; how many spaces went."""
    children = {k for k, s in p.spaces.items() if len(s.path) > 1}
    inside: dict[str, set[str]] = {}
    for kind, items in (
        ("chart", p.charts),
        ("dashboard", p.dashboards),
        ("sqlchart", p.sql_charts),
    ):
        inside[kind] = {slug for slug, c in items.items() if "/".join(c.space) in children}
    p.spaces = {k: s for k, s in p.spaces.items() if k not in children}
    p.charts = {k: c for k, c in p.charts.items() if k not in inside["chart"]}
    p.dashboards = {k: d for k, d in p.dashboards.items() if k not in inside["dashboard"]}
    p.sql_charts = {k: c for k, c in p.sql_charts.items() if k not in inside["sqlchart"]}
    p.schedulers = {k: s for k, s in p.schedulers.items() if s.resource not in inside[s.on]}
    return len(children)


def verify(
    view: SnapshotView,
    target: TargetState,
    clients: Sequence[LightdashClient],
    handlers: Sequence[Handler],
) -> VerifyReport:
    """`target`: read as restore reads it; `handlers`: in restore order (the registry's)."""
    view, notes = restorable(view, target)
    report = VerifyReport(notes=notes)
    for handler in handlers:
        if handler.rows or handler.org_rows:  # a type restore writes is a type verify compares
            want, have = sides(handler, view, target)
            if handler.optional and not want and not have:
                continue
            compare(report.types.setdefault(handler.name, TypeReport()), want, have)
    report.keys = key_stats(clients)
    return report
