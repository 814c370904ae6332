"""Omni as the engine sees it (`omnimigrate.engine.platform.Platform`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from omnimigrate.engine.content import ContentReport
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.engine.scope import PathFilter
from omnimigrate.engine.verify import VerifyReport
from omnimigrate.platforms.omni.applying import OmniRunner
from omnimigrate.platforms.omni.backup import BackupContext, OmniWalker
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.handlers import content
from omnimigrate.platforms.omni.inventory import TargetInventory, read_inventory
from omnimigrate.platforms.omni.options import OmniRestoreOptions
from omnimigrate.platforms.omni.planning import OmniPlan, make_plan
from omnimigrate.platforms.omni.pool import client_pool
from omnimigrate.platforms.omni.preflight import preflight
from omnimigrate.platforms.omni.registry import ACTION_KINDS, HANDLERS
from omnimigrate.platforms.omni.snapshot_view import SnapshotView, load_snapshot_view
from omnimigrate.platforms.omni.verifying import verify
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest
from omnimigrate.snapshot.store import Store


class OmniPlatform:
    name = "omni"
    plan_type = OmniPlan
    action_kinds = frozenset(ACTION_KINDS)
    client_pool = staticmethod(client_pool)
    preflight = staticmethod(preflight)
    options_type = OmniRestoreOptions

    def walker(self, blobs: BlobStore, scope: PathFilter, previous: Manifest | None) -> OmniWalker:
        """`previous`: the instance's last snapshot, whose unchanged exports are kept."""
        context = BackupContext(
            blobs=blobs,
            scope=scope,
            previous={o.key: o for o in previous.of_type("document_export")} if previous else {},
            per_user=tuple(job for h in HANDLERS for job in h.per_user),
            per_group=tuple(job for h in HANDLERS for job in h.per_group),
        )
        return OmniWalker(context, HANDLERS)

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

    def runner(self, plan: OmniPlan, blobs: BlobStore, ledger: RestoreLedger) -> OmniRunner:
        return OmniRunner(plan, blobs, ledger)

    async def verify(
        self,
        view: SnapshotView,
        clients: Sequence[OmniClient],
        *,
        models: bool = False,
        documents: list[str] | None = None,
        concurrency: int = 4,
        store: Store | None = None,
        pause_schedules: bool = False,
    ) -> VerifyReport:
        return await verify(
            view, clients, models=models, documents=documents, concurrency=concurrency,
            store=store, pause_schedules=pause_schedules,
        )  # fmt: skip

    async def check_content(
        self, view: SnapshotView, clients: Sequence[OmniClient], options: OmniRestoreOptions
    ) -> ContentReport:
        return await content.check(view, clients, options)


OMNI = OmniPlatform()
