"""Verify for Lightdash: read the target's projects as restore reads them, then compare, per
handler and natural key, every field restore writes (each handler's `rows`, the same
function on both sides, or `org_rows` for the organization's types).

Across generations verify compares what the target's can hold: each handler's `hold` makes
a copy of the snapshot what the target's generation can hold (into 0.1471: the first of
each of 1.219's attribute value lists, no `projectMemberAccessRole`, no SQL charts nor
schedulers on them, none of 1.219's fields 0.1471's spec lacks; into a flat server, no child
space nor its content) and names what it leaves out in the report's notes, as the plan
named it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omnimigrate.engine.verify import TypeReport, VerifyReport
from omnimigrate.http.transport import key_stats
from omnimigrate.platforms.lightdash.client import LightdashClient
from omnimigrate.platforms.lightdash.handler import Handler
from omnimigrate.platforms.lightdash.natural_keys import StateBase, ViewBase


def compare(rows: TypeReport, want: dict[str, Any], have: dict[str, Any]) -> None:
    for key, value in sorted(want.items()):
        rows.checked += 1
        if key in have:
            rows.check_all(key, value, have[key])
        else:
            rows.missing(key)
    rows.extras += sorted(set(have) - set(want))


def sides(handler: Handler, view: ViewBase, target: StateBase) -> tuple[dict, dict]:
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


def restorable(
    view: ViewBase, target: StateBase, handlers: Sequence[Handler]
) -> tuple[ViewBase, list[str]]:
    """The snapshot as the target's generation can hold it, and what that leaves out: each
    handler's `hold`, in restore order, on one copy (a scheduler's goes after its chart's)."""
    kept = view.model_copy(deep=True)
    notes: list[str] = []
    for handler in handlers:
        if handler.hold:
            notes += handler.hold(kept, target)
    return kept, notes


def verify(
    view: ViewBase,
    target: StateBase,
    clients: Sequence[LightdashClient],
    handlers: Sequence[Handler],
) -> VerifyReport:
    """`target`: read as restore reads it; `handlers`: in restore order (the registry's)."""
    view, notes = restorable(view, target, handlers)
    report = VerifyReport(notes=notes)
    for handler in handlers:
        if handler.rows or handler.org_rows:  # a type restore writes is a type verify compares
            want, have = sides(handler, view, target)
            if handler.optional and not want and not have:
                continue
            compare(report.types.setdefault(handler.name, TypeReport()), want, have)
    report.keys = key_stats(clients)
    return report
