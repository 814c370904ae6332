"""The handler protocol for Lightdash: everything omnimigrate knows about one object type, in
one module under `handlers/`, declared as one `Handler`.

Side by side, each part optional:
- **backup**: `jobs` maps each job kind it owns to the coroutine that does it; `per_project`
  are the listing jobs queued for each project backed up (org-wide types list from `roots`);
- **snapshot view**: `load` turns its snapshot entries into the `SnapshotView`'s typed
  objects (natural keys only), through the `SnapshotReader`;
- **target**: `read` reads what the target holds of it into the `TargetState`, for one
  project (`TargetReader.project` is None for the organization-wide part);
- **plan**: `plan` adds its actions through the `PlanContext`;
- **apply**: `actions` maps each action kind it plans to how it is written (`ActionKind`:
  whether it creates an object, how one an interrupted run made is finished, what it
  costs), and `side_effects` what the server adds on its own when it creates one, undone
  in the same run (`engine/protocol.py`);
- **verify**: `rows` are what verify compares per natural key in one project, `org_rows`
  in the organization (groups); the same function reads both sides.

The registry (`registry.py`) lists the handlers in restore order, each with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from omnimigrate.engine import handler as engine

if TYPE_CHECKING:
    # named as strings in a type argument below, which linters do not read as a use
    from omnimigrate.platforms.lightdash.applying import ApplyContext  # noqa: F401
    from omnimigrate.platforms.lightdash.client import LightdashClient  # noqa: F401
    from omnimigrate.platforms.lightdash.natural_keys import Project, SnapshotView, TargetState
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

Args = Mapping[str, str]
ActionKind = engine.ActionKind["ApplyContext", "LightdashClient"]
Rows = Callable[[str, "Project"], dict[str, Any]]  # (snapshot project name, one side's project)
OrgRows = Callable[["SnapshotView | TargetState"], dict[str, Any]]


@dataclass(frozen=True)
class Handler(engine.Handler):
    per_project: tuple[str, ...] = ()
    load: Callable[[SnapshotReader, SnapshotView], None] | None = None
    read: Callable[[TargetReader], Awaitable[None]] | None = None
    plan: Callable[[PlanContext], None] | None = None
    rows: Rows | None = None
    org_rows: OrgRows | None = None
    org_wide: bool = False  # `read` reads the organization, not a project
    optional: bool = False  # a type only some servers have: verify names it where either side does
