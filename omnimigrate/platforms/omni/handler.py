"""The handler protocol: everything omnimigrate knows about one Omni object type, in one module
under `handlers/`, declared as one `Handler`.

A handler says, side by side:
- **backup**: `jobs` maps each job kind it owns to the coroutine that does it; `roots` are the
  listing jobs every backup starts with; `per_user` and `per_group` are jobs queued for each
  user or group the identities listing finds (a walk per owner, a read per principal);
- **snapshot view**: `load` turns its snapshot entries into typed objects on the
  `SnapshotView` (natural keys only, never source ids);
- **inventory**: `read_target` are the listings that read what the target holds of it (each
  may go to another key), `read_target_per_user` what only a walk per user shows, and
  `read_target_for` the reads that only what the snapshot holds calls for;
- **plan**: `plan` adds its actions to the plan, through the `PlanContext`;
- **apply**: `actions` maps each action kind it plans to how it is written (`ActionKind`);
- **verify**: `verify` compares the target with the snapshot and fills in its report rows.

Every part is optional: a type restore does not write has no `plan`. An action that is only
ever planned blocked (a grant to someone the target lacks, a folder owner that cannot be set)
has no `ActionKind`: the applier never writes it. The registry
(`registry.py`) lists the handlers in restore order, each with the reason for its place.
Dispatch goes through these references: no method is looked up by a built name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omnimigrate.engine.jobs import READ, Job, JobResult
from omnimigrate.engine.plan import Action

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.inventory import TargetInventory
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader, SnapshotView
    from omnimigrate.platforms.omni.verifying import VerifyContext

JobArgs = Mapping[str, str]
BackupJob = Callable[["BackupContext", "OmniClient", JobArgs], Awaitable[JobResult]]
Apply = Callable[["ApplyContext", "OmniClient", Action], Awaitable[None]]
Adopt = Callable[["ApplyContext", "OmniClient", Action], Awaitable[None]]


def one_request(_action: Action) -> int:
    return 1


@dataclass(frozen=True)
class ActionKind:
    """How one kind of action is written: `apply` does it; `adopt` finishes one whose object
    an interrupted run made; `creates`: it makes a new object, so the engine writes its
    intent first (`engine/protocol.py`); `requests` is about what it costs (for the plan's
    estimate)."""

    apply: Apply
    requests: Callable[[Action], int] = one_request
    adopt: Adopt | None = None
    creates: bool = False
    # a document's re-import resets what this kind wrote (an owner, a permit, a favorite):
    # when an update-model falls back to re-importing, it is written again at once
    reset_by_import: bool = False
    # what the restore report says of a written action beyond "done" (a new identifier)
    warning: Callable[[ApplyContext, Action], str | None] | None = None


@dataclass(frozen=True)
class JobTemplate:
    """A job queued for each object a listing finds: `kind`, with that object's id and key."""

    kind: str
    priority: int = READ

    def job(self, object_id: str, key: str) -> Job:
        return Job(kind=self.kind, args={"id": object_id, "key": key}, priority=self.priority)


@dataclass(frozen=True)
class Handler:
    name: str
    jobs: Mapping[str, BackupJob] = field(default_factory=dict)
    roots: tuple[str, ...] = ()
    per_user: tuple[JobTemplate, ...] = ()
    per_group: tuple[JobTemplate, ...] = ()
    load: Callable[[SnapshotReader, SnapshotView], None] | None = None
    read_target: tuple[Callable[[OmniClient, TargetInventory], Awaitable[None]], ...] = ()
    read_target_per_user: Callable[[OmniClient, TargetInventory, str], Awaitable[None]] | None = (
        None
    )
    # reads of the target that only what the snapshot holds calls for (one per principal
    # with model roles, not one per user of the org): each takes the key it goes to
    read_target_for: (
        Callable[[TargetInventory, SnapshotView], list[Callable[[OmniClient], Awaitable[None]]]]
        | None
    ) = None
    plan: Callable[[PlanContext], None] | None = None
    actions: Mapping[str, ActionKind] = field(default_factory=dict)
    verify: Callable[[VerifyContext], Awaitable[None]] | None = None
    # lines `plan --explain-order` prints under this type (a document's own steps)
    explain: tuple[str, ...] = ()
