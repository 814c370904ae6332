"""Restore end to end: open a snapshot, read the target, plan, and apply with the ledger.
The platform (whose snapshot, whose target) comes from the snapshot's manifest."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from omnimigrate.engine.apply import Applier, ApplyResult
from omnimigrate.engine.plan import Inventory, Plan, RestoreOptions
from omnimigrate.engine.platform import Client, Platform, platform_named
from omnimigrate.engine.restore_ledger import RestoreLedger
from omnimigrate.errors import ConfigError
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
    platform: Platform
    source: Any  # the platform's view of the snapshot (Omni's: SnapshotView)
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
    platform = platform_named(manifest.platform)
    return OpenSnapshot(store, platform, platform.snapshot_view(manifest, blobs), blobs)


def options_for(platform: Platform, options: RestoreOptions) -> RestoreOptions:
    """`options` as the platform's own type: every platform's options carry over, and one
    that is another platform's is refused, naming it (the CLI refuses it before this)."""
    if isinstance(options, platform.options_type):
        return options
    given = options.model_dump(exclude_unset=True)
    foreign = sorted(set(given) - set(platform.options_type.model_fields))
    if foreign:
        raise ConfigError(
            f"{', '.join(foreign)}: not an option of a {platform.name} restore (remove it)"
        )
    return platform.options_type.model_validate(given)


async def plan_restore(
    snap: OpenSnapshot,
    clients: Sequence[Client],
    options: RestoreOptions,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Plan[Any, Any]:
    """Read the target (over all its keys) and plan the restore; writes nothing."""
    options = options_for(snap.platform, options)  # before the reads: refused at once
    inventory = await snap.platform.read_inventory(clients, snap.source)
    ledger = await asyncio.to_thread(RestoreLedger, snap.store, ledger_name(inventory))
    return snap.platform.plan(snap.source, inventory, ledger.records, options, now())


async def resume_saved(
    snap: OpenSnapshot,
    saved: Plan[Any, Any],
    clients: Sequence[Client],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Plan[Any, Any]:
    """The plan that applies a saved plan now. An untouched target: the saved plan itself.
    A target that changed only where the saved plan writes and its ledger says it wrote (a
    killed `restore --plan`): the plan again from here, which may write nothing the saved
    plan does not. Anything else is drift, named."""
    current = await snap.platform.read_inventory(clients, snap.source)
    if saved.inventory.digest() == current.digest():
        return saved
    ledger = await asyncio.to_thread(RestoreLedger, snap.store, ledger_name(saved.inventory))
    done = [a.id for a in saved.actions if a.writes and a.id in ledger.records]
    made = {t for t in (ledger.records[a].target for a in done) if t}
    changes = saved.inventory.differences(current, _prefixes(done), made)
    if changes:
        raise PlanDrift(
            f"the target changed since this plan was made ({'; '.join(changes)}); run "
            "`omnimigrate plan` again, review it, and apply the new plan"
        )
    plan = snap.platform.plan(snap.source, current, ledger.records, saved.options, now())
    reviewed = {a.id: a.digest for a in saved.actions if a.writes}
    unreviewed = [a.id for a in plan.actions if a.writes and reviewed.get(a.id) != a.digest]
    if unreviewed:
        raise PlanDrift(
            f"resuming this plan would write what it does not hold ({', '.join(unreviewed[:3])}): "
            "run `omnimigrate plan` again, review it, and apply the new plan"
        )
    return plan


def ledger_name(inventory: Inventory) -> str:
    """The restore ledger of a target: its host, and the part of it restored into."""
    scope = inventory.ledger_scope()
    return instance_slug(inventory.url) + (f"-{scope}" if scope else "")


def _prefixes(action_ids: Iterable[str]) -> set[str]:
    """Each action id and every id it is a step of (`document:x:owner` -> `document:x`)."""
    out: set[str] = set()
    for action in action_ids:
        parts = action.split(":")
        out |= {":".join(parts[:n]) for n in range(2, len(parts) + 1)}
    return out


async def apply_plan(
    snap: OpenSnapshot,
    plan: Plan[Any, Any],
    clients: Sequence[Client],
    *,
    concurrency: int = 4,
    on_progress: Callable[[int, int | None], None] = lambda done, total: None,
) -> ApplyResult:
    ledger = await asyncio.to_thread(RestoreLedger, snap.store, ledger_name(plan.inventory))
    runner = snap.platform.runner(plan, snap.blobs, ledger)
    applier = Applier(
        plan, clients, runner, ledger, concurrency=concurrency, on_progress=on_progress
    )
    return await applier.run()
