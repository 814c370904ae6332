"""The handler protocol: everything omnimigrate knows about one Omni object type, in one module
under `handlers/`, declared as one `Handler`.

A handler says, side by side:
- **backup**: `jobs` maps each job kind it owns to the coroutine that does it; `roots` are the
  listing jobs every backup starts with; `per_user` and `per_group` are jobs queued for each
  user or group the identities listing finds (a walk per owner, a read per principal);
- **snapshot view**: `view` is its part of the snapshot view, and `load` turns its snapshot
  entries into typed objects there (natural keys only, never source ids);
- **inventory**: `target` is its part of the target inventory; `read_target` are the
  listings that read what the target holds of it (each may go to another key),
  `read_target_per_user` what only a walk per user shows, and `read_target_for` the reads
  that only what the snapshot holds calls for;
- **plan**: `plan` adds its actions to the plan, through the `PlanContext`, typed by its
  parts; `references`, what its selected objects name, for the types planned before it;
- **apply**: `actions` maps each action kind it plans to how it is written (`ActionKind`);
- **verify**: `verify` compares the target with the snapshot and fills in its report rows;
  `verify_references`, what the objects it compares name, for the types verified before it.

A handler reads its own parts through its contexts and another type's with
`engine.parts.part`, importing that type's handler: a handler imports only the handlers
before it in the registry, and the contexts never import a handler.

Every part is optional: a type restore does not write has no `plan`. An action that is only
ever planned blocked (a grant to someone the target lacks, a folder owner that cannot be set)
has no `ActionKind`: the applier never writes it. The registry
(`registry.py`) lists the handlers in restore order, each with the reason for its place.
Dispatch goes through these references: no method is looked up by a built name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from omnimigrate.engine import handler as engine

if TYPE_CHECKING:
    # named as strings in a base class below, which linters do not read as a use
    from omnimigrate.platforms.omni.applying import ApplyContext  # noqa: F401
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
    from omnimigrate.platforms.omni.verifying import VerifyContext


@dataclass(frozen=True)
class ActionKind(engine.ActionKind["ApplyContext", "OmniClient"]):
    # a document's re-import resets what this kind wrote (an owner, a permit, a favorite):
    # when an update-model falls back to re-importing, it is written again at once
    reset_by_import: bool = False
    # its object, made again, starts with nothing on it (an import, a folder's create): what
    # its children wrote is planned again
    remakes: bool = False


@dataclass(frozen=True)
class Handler(engine.Handler):
    per_user: tuple[engine.JobTemplate, ...] = ()
    per_group: tuple[engine.JobTemplate, ...] = ()
    # each takes the composed view or inventory, typed by the handler as its own part
    load: Callable[[SnapshotReader, Any], None] | None = None
    read_target: tuple[Callable[[OmniClient, Any], Awaitable[None]], ...] = ()
    read_target_per_user: Callable[[OmniClient, Any, str], Awaitable[None]] | None = None
    # reads of the target that only what the snapshot holds calls for (one per principal
    # with model roles, not one per user of the org): each takes the key it goes to
    read_target_for: Callable[[Any, Any], list[Callable[[OmniClient], Awaitable[None]]]] | None = (
        None
    )
    plan: Callable[[PlanContext[Any, Any]], None] | None = None
    verify: Callable[[VerifyContext[Any, Any]], Awaitable[None]] | None = None
    verify_references: Callable[[VerifyContext[Any, Any]], Iterable[str]] | None = None
