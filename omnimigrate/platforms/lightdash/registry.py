"""The restore order: Lightdash's object types, each after what it names or lives in, with
the reason for its place. Backup, the snapshot view, the target's reading, the planner, the
applier and verify all iterate this one list."""

from __future__ import annotations

from dataclasses import dataclass

from omnimigrate.engine.protocol import SideEffect
from omnimigrate.platforms.lightdash.handler import Apply, Handler
from omnimigrate.platforms.lightdash.handlers import (
    access,
    attributes,
    charts,
    dashboards,
    groups,
    schedulers,
    settings,
    spaces,
    sqlcharts,
)


@dataclass(frozen=True)
class Stage:
    handler: Handler
    reason: str


RESTORE_ORDER: tuple[Stage, ...] = (
    Stage(groups.HANDLER, "members mapped by email; project and space access name groups"),
    Stage(attributes.HANDLER, "values by user email and group name; before the access and content row filters read them"),
    Stage(access.HANDLER, "users by email and groups by name, before the content they open"),
    Stage(spaces.HANDLER, "parents first, each with its user and group access: content goes into them"),
    Stage(charts.HANDLER, "into their space (by its slug on the target, read after it is made)"),
    Stage(dashboards.HANDLER, "after the charts their tiles name; then the charts saved in them are linked"),
    Stage(sqlcharts.HANDLER, "1.219's SQL charts, into their space as charts are; before their schedulers"),
    Stage(settings.HANDLER, "the project's default time zone, before the schedulers that run in it"),
    Stage(schedulers.HANDLER, "last: each is on a chart, dashboard or SQL chart, which exists by now"),
)  # fmt: skip

HANDLERS: tuple[Handler, ...] = tuple(stage.handler for stage in RESTORE_ORDER)
ACTIONS: dict[str, Apply] = {kind: do for h in HANDLERS for kind, do in h.actions.items()}
ADOPT: dict[str, Apply] = {kind: do for h in HANDLERS for kind, do in h.adopt.items()}
CREATES: frozenset[str] = frozenset(kind for h in HANDLERS for kind in h.creates)
SIDE_EFFECTS: tuple[SideEffect, ...] = tuple(e for h in HANDLERS for e in h.side_effects)


def explain_order() -> list[str]:
    return [f"{n}. {s.handler.name}: {s.reason}" for n, s in enumerate(RESTORE_ORDER, 1)]
