"""The restore order: Omni's object types, each after what it names or lives in, with the
reason for its place, and the snapshot view and target inventory composed of the parts each
declares. Backup, the inventory, the planner, the applier and verify all iterate this one
list (`phases.py`; `omnimigrate plan --explain-order` prints it)."""

from __future__ import annotations

from omnimigrate.engine.handler import Registry, Stage
from omnimigrate.engine.plan import Inventory
from omnimigrate.platforms.omni.handler import Handler
from omnimigrate.platforms.omni.handlers import (
    attributes,
    documents,
    favorites,
    folders,
    identities,
    labels,
    models,
    roles,
    schedules,
)
from omnimigrate.platforms.omni.snapshot_view import ViewBase

REGISTRY: Registry[Handler] = Registry((
    Stage(attributes.HANDLER, "first, and never written (no API route): users' attribute values name a definition"),
    Stage(identities.HANDLER, "users and groups (with --create-missing-*): owners, grants and recipients name them"),
    Stage(labels.HANDLER, "documents are labelled with them"),
    Stage(folders.HANDLER, "parents first, each with its scope, owner and permissions: documents go into them"),
    Stage(models.HANDLER, "a shared model's own YAML (--models) before the documents whose queries use it"),
    Stage(documents.HANDLER, "into their folder, on their model; then their own writes (below)"),
    Stage(favorites.HANDLER, "after their document's owner and permissions: a user favorites what they can see"),
    Stage(schedules.HANDLER, "after their dashboard's owner and permissions: only someone who sees it may own one"),
    Stage(roles.HANDLER, "last: a model role names a model and a user or group, which exist by now"),
))  # fmt: skip


# the snapshot as restore and verify see it, and what the target holds by natural key: every
# type's part (`engine/parts.py`)
SnapshotView = REGISTRY.compose("SnapshotView", ViewBase, lambda h: h.view)
TargetInventory = REGISTRY.compose("TargetInventory", Inventory, lambda h: h.target)
