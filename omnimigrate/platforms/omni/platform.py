"""Omni as the engine sees it (`omnimigrate.engine.platform.Platform`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from omnimigrate.engine.content import ContentReport
from omnimigrate.engine.handler import Runner, Walker
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.engine.scope import PathFilter
from omnimigrate.engine.verify import VerifyReport
from omnimigrate.platforms.omni.applying import ApplyContext, make_runner
from omnimigrate.platforms.omni.backup import BackupContext
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.handlers import content
from omnimigrate.platforms.omni.inventory import read_inventory
from omnimigrate.platforms.omni.options import OmniRestoreOptions, OmniVerifyOptions
from omnimigrate.platforms.omni.planning import OmniPlan, make_plan
from omnimigrate.platforms.omni.pool import client_pool
from omnimigrate.platforms.omni.preflight import OmniChecks
from omnimigrate.platforms.omni.registry import REGISTRY, SnapshotView, TargetInventory
from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
from omnimigrate.platforms.omni.verifying import verify
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest
from omnimigrate.snapshot.store import Store


def load_snapshot_view(manifest: Manifest, blobs: BlobStore) -> SnapshotView:
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


class OmniPlatform:
    name = "omni"
    plan_type = OmniPlan
    action_kinds = frozenset(REGISTRY.actions)
    client_pool = staticmethod(client_pool)
    explain_order = staticmethod(REGISTRY.explain_order)
    options_type = OmniRestoreOptions
    verify_options_type = OmniVerifyOptions

    def checks(self, project: str | None = None) -> OmniChecks:
        """`project`: none on Omni (the config refuses one for an Omni instance)."""
        return OmniChecks()

    def walker(
        self, blobs: BlobStore, scope: PathFilter, previous: Manifest | None
    ) -> Walker[BackupContext]:
        """`previous`: the instance's last snapshot, whose unchanged exports are kept."""
        kept = previous.objects if previous else []
        context = BackupContext(
            blobs=blobs,
            scope=scope,
            previous={o.key: o for o in kept if o.type in REGISTRY.keeps},
            per_user=tuple(job for h in REGISTRY.handlers for job in h.per_user),
            per_group=tuple(job for h in REGISTRY.handlers for job in h.per_group),
        )
        return Walker(context, REGISTRY)

    def snapshot_view(self, manifest: Manifest, blobs: BlobStore) -> SnapshotView:
        return load_snapshot_view(manifest, blobs)

    async def read_inventory(
        self, clients: Sequence[OmniClient], view: SnapshotView
    ) -> TargetInventory:
        return await read_inventory(clients, view)

    def plan(
        self,
        view: SnapshotView,
        inventory: TargetInventory,
        ledger: dict[str, LedgerRecord],
        options: OmniRestoreOptions,
        now: datetime,
    ) -> OmniPlan:
        return make_plan(view, inventory, ledger, options, now)

    def runner(
        self, plan: OmniPlan, blobs: BlobStore, ledger: RestoreLedger
    ) -> Runner[ApplyContext]:
        return make_runner(plan, blobs, ledger)

    async def verify(
        self,
        view: SnapshotView,
        clients: Sequence[OmniClient],
        options: OmniVerifyOptions | None = None,
        *,
        concurrency: int = 4,
        store: Store | None = None,
    ) -> VerifyReport:
        return await verify(view, clients, options, concurrency=concurrency, store=store)

    async def check_content(
        self, view: SnapshotView, clients: Sequence[OmniClient], options: OmniRestoreOptions
    ) -> ContentReport:
        return await content.check(view, clients, options)


OMNI = OmniPlatform()
