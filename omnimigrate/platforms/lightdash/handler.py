"""The handler protocol for Lightdash: everything omnimigrate knows about one object type, in
one module under `handlers/`, declared as one `Handler`.

Side by side, each part optional:
- **parts**: the type's fields of each composed model (`engine/parts.py`; the registry
  composes them onto the bases in `natural_keys.py`): `project`, of one project as both
  sides are read; `view`, of the snapshot's organization; `state`, of the target's;
  `uuids`, of the target uuids the applier writes with (`TargetIds`); `target`, of the
  inventory a plan keeps (digests by natural key, and `WRITTEN_BY`);
- **backup**: `jobs` maps each job kind it owns to the coroutine that does it; `per_project`
  are the listing jobs queued for each project backed up (org-wide types list from `roots`);
- **snapshot view**: `load` turns its snapshot entries into its parts of the view (natural
  keys only), through the `SnapshotReader`;
- **target**: `read` reads what the target holds of it into its parts of the target state,
  for one project (`TargetReader.project` is "" for the organization-wide part, `org_wide`);
  `inventory` keeps of that what the plan compares (its `target` part);
- **plan**: `plan` adds its actions through the `PlanContext`;
- **apply**: `actions` maps each action kind it plans to how it is written (`ActionKind`:
  whether it creates an object, how one an interrupted run made is finished, what it
  costs, how a selection takes it), and `side_effects` what the server adds on its own when
  it creates one, undone in the same run (`engine/protocol.py`);
- **verify**: `hold` makes a copy of the snapshot what the target's generation can hold
  (naming what that leaves out); `rows` are what verify compares per natural key in one
  project, `org_rows` in the organization; the same function reads both sides.

The registry (`registry.py`) lists the handlers in restore order, each with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from omnimigrate.engine import handler as engine
from omnimigrate.engine.plan import Action

if TYPE_CHECKING:
    # named as strings in a type argument below, which linters do not read as a use
    from omnimigrate.platforms.lightdash.applying import ApplyContext  # noqa: F401
    from omnimigrate.platforms.lightdash.client import LightdashClient  # noqa: F401
    from omnimigrate.platforms.lightdash.natural_keys import (
        InventoryBase,
        StateBase,
        ViewBase,
    )
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

Args = Mapping[str, str]
Rows = Callable[[str, Any], dict[str, Any]]  # (snapshot project name, one side's project)
OrgRows = Callable[[Any], dict[str, Any]]  # one side (the snapshot view or the target state)
# the copy of the snapshot verify compares, made what the target can hold: the notes on
# what that leaves out
Hold = Callable[["ViewBase", "StateBase"], list[str]]


@dataclass(frozen=True)
class ActionKind(engine.ActionKind["ApplyContext[Any]", "LightdashClient"]):
    """How a selection (`--include`/`--exclude`, `planning.select`) takes it: `selected`,
    whether a pattern picks it by itself (False: only as what a selected one needs, as
    people and access are); `follows`, whether it comes with what it depends on (a
    scheduler with its chart); `brings`, the ids of the plan's actions that come along with
    it (a space's access)."""

    selected: bool = True
    follows: bool = False
    brings: Callable[[Action, Mapping[str, Action]], Iterable[str]] | None = None


@dataclass(frozen=True)
class Handler(engine.Handler):
    project: type[BaseModel] | None = None
    state: type[BaseModel] | None = None
    uuids: type[BaseModel] | None = None
    per_project: tuple[str, ...] = ()
    load: Callable[[SnapshotReader, ViewBase], None] | None = None
    read: Callable[[TargetReader], Awaitable[None]] | None = None
    inventory: Callable[[StateBase, InventoryBase], None] | None = None
    plan: Callable[[PlanContext[Any, Any]], None] | None = None
    hold: Hold | None = None
    rows: Rows | None = None
    org_rows: OrgRows | None = None
    org_wide: bool = False  # `read` reads the organization, not a project
    optional: bool = False  # a type only some servers have: verify names it where either side does
