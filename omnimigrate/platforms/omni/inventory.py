"""What the target instance holds, by natural key, read through the API before planning.

The inventory's digest goes into a saved plan: `restore --plan` refuses a plan whose target
has changed since, and names what changed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from omnimigrate.engine.plan import Inventory
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.handlers.documents import TargetDocument
from omnimigrate.platforms.omni.handlers.folders import TargetFolder
from omnimigrate.platforms.omni.handlers.models import TargetModel
from omnimigrate.platforms.omni.handlers.schedules import TargetSchedule
from omnimigrate.platforms.omni.registry import REGISTRY

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.snapshot_view import SnapshotView


class TargetInventory(Inventory):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "labels": "label", "users": "user", "groups": "group", "email_only": "email_only",
        "folders": "folder", "documents": "document", "favorites": "favorite",
        "schedules": "schedule", "roles": "role", "trashed": "document",
    }  # fmt: skip

    labels: dict[str, dict[str, object]] = Field(default_factory=dict)  # lower name -> settings
    connections: dict[str, str] = Field(default_factory=dict)  # name -> id
    models: dict[str, TargetModel] = Field(default_factory=dict)
    users: dict[str, str] = Field(default_factory=dict)  # email -> id
    email_only: dict[str, str] = Field(default_factory=dict)  # email -> id
    groups: dict[str, str] = Field(default_factory=dict)  # name -> id
    folders: dict[str, TargetFolder] = Field(default_factory=dict)
    documents: dict[str, TargetDocument] = Field(default_factory=dict)
    # in the trash, of the documents the snapshot names and the target holds none live of
    trashed: dict[str, TargetDocument] = Field(default_factory=dict)
    favorites: dict[str, list[str]] = Field(default_factory=dict)  # email -> identifiers
    schedules: dict[str, TargetSchedule] = Field(default_factory=dict)
    # "user:EMAIL" / "group:NAME" -> its direct model roles, [scope, role] (read only for the
    # principals the snapshot has roles for)
    roles: dict[str, list[tuple[str, str]]] = Field(default_factory=dict)


async def read_inventory(
    clients: Sequence[OmniClient], view: SnapshotView | None = None
) -> TargetInventory:
    """Every handler's listings at once, each on the next of the target's keys, then the
    walks per user (restricted content, favorites) and the reads the snapshot `view` calls
    for (model roles) likewise: with three keys, a third of the time."""
    keys = itertools.cycle(clients)
    inv = TargetInventory(url=clients[0].base_url)
    await asyncio.gather(
        *(read(next(keys), inv) for h in REGISTRY.handlers for read in h.read_target)
    )
    per_user = [h.read_target_per_user for h in REGISTRY.handlers if h.read_target_per_user]
    await asyncio.gather(
        *(read(next(keys), inv, user) for user in list(inv.users.values()) for read in per_user)
    )
    if view is not None:
        reads = [
            read
            for h in REGISTRY.handlers
            if h.read_target_for
            for read in h.read_target_for(inv, view)
        ]
        await asyncio.gather(*(read(next(keys)) for read in reads))
    return inv
