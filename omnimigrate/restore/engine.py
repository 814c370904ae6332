"""Restore end to end: open a snapshot, read the target, plan, and apply with the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from omnimigrate.omni.client import OmniClient
from omnimigrate.restore.applier import Applier, ApplyResult
from omnimigrate.restore.inventory import TargetInventory, read_inventory
from omnimigrate.restore.ledger import RestoreLedger
from omnimigrate.restore.plan import Plan, RestoreOptions
from omnimigrate.restore.planner import make_plan
from omnimigrate.restore.source import SourceOrg, load_source
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.crypto import Cipher
from omnimigrate.snapshot.manifest import instance_slug
from omnimigrate.snapshot.store import Store


class PlanDrift(Exception):
    """The target changed since the saved plan was made; the message names what changed."""


@dataclass
class OpenSnapshot:
    store: Store
    source: SourceOrg
    blobs: BlobStore


def open_snapshot(
    store: Store, snapshot: str, instance: str | None = None, cipher: Cipher | None = None
) -> OpenSnapshot:
    """Load a committed snapshot: its manifest and every small blob (decrypted and hashed
    here, so a wrong key or a damaged blob fails before the target is touched). Document
    exports, the bulk of a snapshot, are read one at a time when their import runs; a damaged
    one fails that import alone (`snapshots verify` checks them all beforehand)."""
    catalog = Catalog(store)
    manifest = catalog.load(catalog.resolve(snapshot, instance))
    blobs = BlobStore(store, cipher=cipher)
    return OpenSnapshot(store, load_source(manifest, blobs), blobs)


async def plan_restore(
    snap: OpenSnapshot,
    clients: list[OmniClient],
    options: RestoreOptions,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Plan:
    """Read the target (over all its keys) and plan the restore; writes nothing."""
    inventory = await read_inventory(clients)
    target = instance_slug(clients[0].base_url)
    ledger = await asyncio.to_thread(RestoreLedger, snap.store, target)
    return make_plan(snap.source, inventory, ledger.records, options, now())


def check_drift(saved: Plan, current: TargetInventory) -> None:
    if saved.inventory.digest() != current.digest():
        changes = "; ".join(saved.inventory.differences(current)) or "contents differ"
        raise PlanDrift(
            f"the target changed since this plan was made ({changes}); run `omnimigrate plan` "
            "again, review it, and apply the new plan"
        )


async def apply_plan(
    snap: OpenSnapshot,
    plan: Plan,
    clients: list[OmniClient],
    *,
    concurrency: int = 4,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> ApplyResult:
    ledger = await asyncio.to_thread(RestoreLedger, snap.store, instance_slug(plan.target_url))
    applier = Applier(
        plan, clients, snap.blobs, ledger, concurrency=concurrency, on_progress=on_progress
    )
    return await applier.run()
