"""Omni's restore phases over its registry, in its order: the snapshot view each handler
loads its part of, the target inventory each reads its part of, the plan, the applier's
runner and verify. Only this module (and `platform.py` above it) knows the registry: the
contexts the handlers are typed by never import it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from omnimigrate.engine.content import ContentReport
from omnimigrate.engine.handler import Runner
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Inventory, Plan
from omnimigrate.engine.restore import ledger_name
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.engine.verify import SpreadReads, VerifyReport
from omnimigrate.http.transport import key_stats
from omnimigrate.platforms.omni.applying import ApplyContext
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.handler import ActionKind
from omnimigrate.platforms.omni.handlers import content
from omnimigrate.platforms.omni.handlers.documents import View as Documents
from omnimigrate.platforms.omni.handlers.documents import restorable
from omnimigrate.platforms.omni.handlers.models import View as Models
from omnimigrate.platforms.omni.options import OmniRestoreOptions, OmniVerifyOptions
from omnimigrate.platforms.omni.planning import OmniPlan, PlanContext
from omnimigrate.platforms.omni.registry import REGISTRY, SnapshotView, TargetInventory
from omnimigrate.platforms.omni.snapshot_view import SnapshotReader, ViewBase
from omnimigrate.platforms.omni.trash import restored_as
from omnimigrate.platforms.omni.verifying import VerifyContext
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest
from omnimigrate.snapshot.store import Store

# a saved plan, read back with the composed inventory (mypy sees the base: the parts are
# composed at import)
PLAN_TYPE: type[OmniPlan] = Plan[TargetInventory, OmniRestoreOptions]  # type: ignore[valid-type]
OMNI_KINDS = {k: a for k, a in REGISTRY.actions.items() if isinstance(a, ActionKind)}
REMADE = frozenset(k for k, a in OMNI_KINDS.items() if a.remakes)
RESET_BY_IMPORT = {k: a for k, a in OMNI_KINDS.items() if a.reset_by_import}


def load_snapshot_view(manifest: Manifest, blobs: BlobStore) -> ViewBase:
    """Every handler loads its part, in registry order (documents read the models loaded
    before them)."""
    reader = SnapshotReader(manifest, blobs)
    view = SnapshotView(
        snapshot_id=manifest.snapshot_id,
        instance=manifest.instance,
        export_flavour=manifest.export_flavour,
    )
    for handler in REGISTRY.handlers:
        if handler.load:
            handler.load(reader, view)
    return view


async def read_inventory(clients: Sequence[OmniClient], view: ViewBase | None = None) -> Inventory:
    """Every handler's listings at once, each on the next of the target's keys, then the
    walks per user (restricted content, favorites) and the reads the snapshot `view` calls
    for (model roles) likewise: with three keys, a third of the time."""
    keys = itertools.cycle(clients)
    inv: Any = TargetInventory(url=clients[0].base_url)
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


def make_plan(
    source: ViewBase,
    inventory: Inventory,
    ledger: dict[str, LedgerRecord],
    options: OmniRestoreOptions,
    now: datetime,
) -> OmniPlan:
    ctx: PlanContext[ViewBase, Inventory] = PlanContext(
        source, inventory, ledger, options, REGISTRY.selectors, REMADE
    )
    REGISTRY.plan(ctx)
    REGISTRY.cost(ctx.actions.values())
    return PLAN_TYPE(
        platform="omni",
        snapshot_id=source.snapshot_id,
        source_instance=source.instance,
        target_url=inventory.url,
        created_at=now,
        options=options,
        inventory=inventory,
        actions=list(ctx.actions.values()),
    )


def make_runner(plan: OmniPlan, blobs: BlobStore, ledger: RestoreLedger) -> Runner[ApplyContext]:
    """The engine's `ActionRunner` for Omni: each action goes to its kind's handler."""
    return Runner(REGISTRY, ApplyContext(plan, blobs, ledger, RESET_BY_IMPORT))


async def verify(
    source: ViewBase,
    clients: Sequence[OmniClient],
    options: OmniVerifyOptions | None = None,
    *,
    concurrency: int = 4,
    store: Store | None = None,
) -> VerifyReport:
    """`options`: what to compare and expect (None: everything, as the snapshot has it);
    `store`: where the target's restore ledger is, which names the documents a restore
    brought back under a new identifier (their own in the target's trash)."""
    options = options or OmniVerifyOptions()
    documents = options.documents
    inv: Any = await read_inventory(clients, source)
    aliases = {}
    if store is not None:
        ledger = await asyncio.to_thread(RestoreLedger, store, ledger_name(inv))
        aliases = restored_as(ledger.records, inv)
    reads = SpreadReads(clients, concurrency)
    compared = documents if documents is not None else restorable(part(source, Documents))
    ctx: VerifyContext[ViewBase, Any] = VerifyContext(
        source, inv, reads, compared, whole=documents is None, models=options.models,
        aliases=aliases,
    )  # fmt: skip
    ctx.pause_schedules = options.pause_schedules
    for handler in reversed(REGISTRY.handlers):
        if handler.verify_references and not ctx.whole:
            ctx.referenced |= set(handler.verify_references(ctx))
    for handler in REGISTRY.handlers:
        if handler.verify:
            await handler.verify(ctx)
    for t in ctx.result.types.values():
        t.differences.sort()  # objects are checked concurrently: report them in order
    ctx.result.keys = key_stats(clients)
    return ctx.result


async def check_content(
    source: ViewBase, clients: Sequence[OmniClient], options: OmniRestoreOptions
) -> ContentReport:
    """The target's content validator on what a restore of the snapshot brought back."""
    docs, shared = part(source, Documents), part(source, Models)
    restored = {i: (docs.documents[i].name, docs.documents[i].model) for i in restorable(docs)}
    return await content.check(shared, shared.models, restored, clients, options)
