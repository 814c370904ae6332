"""Verify for Lightdash: read the target's projects as restore reads them, then compare, per
handler and natural key, every field restore writes (each handler's `rows`, the same
function on both sides): group members; project roles; each space's private flag and user
and group access; each chart's and dashboard's content as code with its space (every tile,
tab and filter); each scheduler's settings and targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omnimigrate.engine.verify import TypeReport, VerifyReport
from omnimigrate.http.transport import key_stats
from omnimigrate.platforms.lightdash.client import LightdashClient
from omnimigrate.platforms.lightdash.handler import Handler
from omnimigrate.platforms.lightdash.model import SnapshotView, TargetState
from omnimigrate.platforms.lightdash.reading import read_target
from omnimigrate.platforms.lightdash.registry import HANDLERS


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


async def verify(view: SnapshotView, clients: Sequence[LightdashClient]) -> VerifyReport:
    target = await read_target(clients, view)
    report = VerifyReport()
    for handler in HANDLERS:
        if handler.rows or handler.org_rows:  # a type restore writes is a type verify compares
            compare(
                report.types.setdefault(handler.name, TypeReport()), *sides(handler, view, target)
            )
    report.keys = key_stats(clients)
    return report
