"""The restore order: Lightdash's object types, each after what it names or lives in, with
the reason for its place. Backup, the snapshot view, the target's reading, the planner, the
applier and verify all iterate this one list, and the models both sides are read into are
composed here of the parts each handler declares (`engine/parts.py`): no module names
every type."""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, Field, create_model

from omnimigrate.engine.handler import Registry, Stage
from omnimigrate.engine.plan import Plan
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
    tags,
)
from omnimigrate.platforms.lightdash.natural_keys import (
    IdsBase,
    InventoryBase,
    ProjectBase,
    StateBase,
    ViewBase,
)
from omnimigrate.platforms.lightdash.options import LightdashRestoreOptions
from omnimigrate.platforms.lightdash.planning import LightdashPlan

REGISTRY: Registry[Handler] = Registry((
    Stage(groups.HANDLER, "members mapped by email; project and space access name groups"),
    Stage(attributes.HANDLER, "values by user email and group name; before the access and content row filters read them"),
    Stage(access.HANDLER, "users by email and groups by name, before the content they open"),
    Stage(spaces.HANDLER, "parents first, each with its user and group access: content goes into them"),
    Stage(charts.HANDLER, "into their space (by its slug on the target, read after it is made)"),
    Stage(dashboards.HANDLER, "after the charts their tiles name; then the charts saved in them are linked"),
    Stage(sqlcharts.HANDLER, "1.219's SQL charts, into their space as charts are; before their schedulers"),
    Stage(settings.HANDLER, "the project's default time zone, before the schedulers that run in it"),
    Stage(tags.HANDLER, "by name in their project: they hang on nothing, and nothing restored names them"),
    Stage(schedulers.HANDLER, "last: each is on a chart, dashboard or SQL chart, which exists by now"),
))  # fmt: skip


def _narrowed(composed: type[BaseModel], **fields: Any) -> Any:
    """`composed` with the fields its base types by a base (`projects`, `ids`) typed by the
    composed model instead, so every part of them is read and written (a saved plan's
    inventory keeps its uuids of every type). `fields`: name -> (type, default)."""
    return create_model(composed.__name__, __base__=composed, __module__=__name__, **fields)


# one project, on either side; the target's uuids; the snapshot; the target; its inventory
Project = REGISTRY.compose("Project", ProjectBase, lambda h: h.project)
TargetIds = REGISTRY.compose("TargetIds", IdsBase, lambda h: h.uuids)
_PROJECTS: tuple[Any, Any] = (dict[str, Project], Field(default_factory=dict))  # type: ignore[valid-type]
SnapshotView = cast(
    type[ViewBase],
    _narrowed(REGISTRY.compose("SnapshotView", ViewBase, lambda h: h.view), projects=_PROJECTS),
)
TargetState = cast(
    type[StateBase],
    _narrowed(REGISTRY.compose("TargetState", StateBase, lambda h: h.state), projects=_PROJECTS,
              ids=(TargetIds, Field(default_factory=TargetIds))),
)  # fmt: skip
TargetInventory = cast(
    type[InventoryBase],
    _narrowed(REGISTRY.compose("TargetInventory", InventoryBase, lambda h: h.target),
              ids=(TargetIds, ...)),
)  # fmt: skip
# the plan, its inventory read back as the composed one (every type's digests and uuids)
PLAN: type[LightdashPlan] = Plan[TargetInventory, LightdashRestoreOptions]  # type: ignore[valid-type]
