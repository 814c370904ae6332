"""Verify for Lightdash: read the target's projects (as restore would) and compare every
field restore promises, per type, by natural key: group members; project access of users
and groups; each space's private flag and user and group access; each chart's and
dashboard's content as code with its space (tiles, tabs, filters included); each
scheduler's settings and targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omnimigrate.engine.verify import TypeReport, VerifyReport
from omnimigrate.http.transport import key_stats
from omnimigrate.platforms.lightdash.client import LightdashClient
from omnimigrate.platforms.lightdash.model import SnapshotView, TargetState
from omnimigrate.platforms.lightdash.reading import read_target


def _compare(report: VerifyReport, title: str, want: dict[str, Any], have: dict[str, Any]) -> None:
    rows = report.types.setdefault(title, TypeReport())
    for key, value in sorted(want.items()):
        rows.checked += 1
        if key not in have:
            rows.missing(key)
        else:
            rows.check_all(key, value, have[key])
    rows.extras += sorted(set(have) - set(want))


async def verify(view: SnapshotView, clients: Sequence[LightdashClient], **_: Any) -> VerifyReport:
    target = await read_target(clients, view)
    report = VerifyReport()
    for title, want, have in comparisons(view, target):
        _compare(report, title, want, have)
    report.keys = key_stats(clients)
    return report


def comparisons(view: SnapshotView, target: TargetState) -> list[tuple[str, dict, dict]]:
    groups_want = {n: {"members": sorted(m)} for n, m in view.groups.items()}
    groups_have = {n: {"members": sorted(m)} for n, m in target.members.items()}
    out: list[tuple[str, dict, dict]] = [("groups", groups_want, groups_have)]
    rows: dict[str, tuple[dict, dict]] = {t: ({}, {}) for t in
                                          ("project access", "spaces", "charts", "dashboards", "schedulers")}  # fmt: skip
    for name in view.projects:
        src, dst = view.projects[name], target.projects.get(name)
        for side, project in ((0, src), (1, dst)):
            if project is None:
                continue
            rows["project access"][side].update(
                {f"{name}:user:{e}": {"role": r} for e, r in project.users.items()}
                | {f"{name}:group:{g}": {"role": r} for g, r in project.groups.items()}
            )
            rows["spaces"][side].update(
                {f"{name}:{k}": s.model_dump(exclude={"path"}) for k, s in project.spaces.items()}
            )
            rows["charts"][side].update(
                {f"{name}:{k}": c.compared() for k, c in project.charts.items()}
            )
            rows["dashboards"][side].update(
                {f"{name}:{k}": d.compared() for k, d in project.dashboards.items()}
            )
            rows["schedulers"][side].update(
                {f"{name}:{k}": s.compared() for k, s in project.schedulers.items()}
            )
    return out + [(title, want, have) for title, (want, have) in rows.items()]
