"""The restore order: Lightdash's object types, each after what it names or lives in, with
the reason for its place. Backup, the snapshot view, the target's reading, the planner, the
applier and verify all iterate this one list."""

from __future__ import annotations

from omnimigrate.engine.handler import Registry, Stage
from omnimigrate.platforms.lightdash.handler import Handler
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

REGISTRY: Registry[Handler] = Registry((
    Stage(groups.HANDLER, "members mapped by email; project and space access name groups"),
    Stage(attributes.HANDLER, "values by user email and group name; before the access and content row filters read them"),
    Stage(access.HANDLER, "users by email and groups by name, before the content they open"),
    Stage(spaces.HANDLER, "parents first, each with its user and group access: content goes into them"),
    Stage(charts.HANDLER, "into their space (by its slug on the target, read after it is made)"),
    Stage(dashboards.HANDLER, "after the charts their tiles name; then the charts saved in them are linked"),
    Stage(sqlcharts.HANDLER, "1.219's SQL charts, into their space as charts are; before their schedulers"),
    Stage(settings.HANDLER, "the project's default time zone, before the schedulers that run in it"),
    Stage(schedulers.HANDLER, "last: each is on a chart, dashboard or SQL chart, which exists by now"),
))  # fmt: skip
