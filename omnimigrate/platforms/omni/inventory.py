"""What the target instance holds, by natural key, read through the API before planning:
each handler's part of `registry.TargetInventory` (its `Target`), read by its listings.

The inventory's digest goes into a saved plan: `restore --plan` refuses a plan whose target
has changed since, and names what changed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.registry import REGISTRY, SnapshotView, TargetInventory


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
