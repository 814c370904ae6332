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
- **apply**: `actions` maps each action kind it plans to how it is written; `creates` are
  the kinds that make a new object (the engine writes an intent first), `adopt` how one
  an interrupted run made is finished, `side_effects` what the server adds on its own
  when it creates one, undone in the same run (`engine/protocol.py`), and `requests` about
  what an action costs where it is not one request;
- **verify**: `rows` are what verify compares per natural key in one project, `org_rows`
  in the organization (groups); the same function reads both sides.

The registry (`registry.py`) lists the handlers in restore order, each with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.engine.protocol import SideEffect

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.model import Project, SnapshotView, TargetState
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

Args = Mapping[str, str]
BackupJob = Callable[["Context", "LightdashClient", Args], Awaitable[JobResult]]
# a write, or the finishing of one an interrupted run began: a warning, or None
Apply = Callable[["ApplyContext", "LightdashClient", Action], Awaitable[str | None]]
Rows = Callable[[str, "Project"], dict[str, Any]]  # (snapshot project name, one side's project)
OrgRows = Callable[["SnapshotView | TargetState"], dict[str, Any]]


@dataclass(frozen=True)
class Handler:
    name: str  # the verify report's row title
    jobs: Mapping[str, BackupJob] = field(default_factory=dict)
    roots: tuple[str, ...] = ()
    per_project: tuple[str, ...] = ()
    load: Callable[[SnapshotReader, SnapshotView], None] | None = None
    read: Callable[[TargetReader], Awaitable[None]] | None = None
    plan: Callable[[PlanContext], None] | None = None
    actions: Mapping[str, Apply] = field(default_factory=dict)
    creates: frozenset[str] = frozenset()
    adopt: Mapping[str, Apply] = field(default_factory=dict)
    side_effects: tuple[SideEffect, ...] = ()
    requests: Mapping[str, Callable[[Action], int]] = field(default_factory=dict)  # else 1
    rows: Rows | None = None
    org_rows: OrgRows | None = None
    org_wide: bool = False  # `read` reads the organization, not a project
    optional: bool = False  # a type only some servers have: verify names it where either side does
