"""Omni as the engine sees it (`omnimigrate.engine.platform.Platform`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from omnimigrate.engine.content import ContentReport
from omnimigrate.engine.handler import Runner, Walker
from omnimigrate.engine.plan import Inventory
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.engine.scope import PathFilter
from omnimigrate.engine.verify import VerifyReport
from omnimigrate.platforms.omni.applying import ApplyContext
from omnimigrate.platforms.omni.backup import BackupContext
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.options import OmniRestoreOptions, OmniVerifyOptions
from omnimigrate.platforms.omni.phases import (
    PLAN_TYPE,
    check_content,
    load_snapshot_view,
    make_plan,
    make_runner,
    read_inventory,
    verify,
)
from omnimigrate.platforms.omni.planning import OmniPlan
from omnimigrate.platforms.omni.pool import client_pool
from omnimigrate.platforms.omni.preflight import OmniChecks
from omnimigrate.platforms.omni.registry import REGISTRY
from omnimigrate.platforms.omni.snapshot_view import ViewBase
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest
from omnimigrate.snapshot.store import Store


class OmniPlatform:
    name = "omni"
    plan_type = PLAN_TYPE
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

    def snapshot_view(self, manifest: Manifest, blobs: BlobStore) -> ViewBase:
        return load_snapshot_view(manifest, blobs)

    async def read_inventory(self, clients: Sequence[OmniClient], view: ViewBase) -> Inventory:
        return await read_inventory(clients, view)

    def plan(
        self,
        view: ViewBase,
        inventory: Inventory,
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
        view: ViewBase,
        clients: Sequence[OmniClient],
        options: OmniVerifyOptions | None = None,
        *,
        concurrency: int = 4,
        store: Store | None = None,
    ) -> VerifyReport:
        return await verify(view, clients, options, concurrency=concurrency, store=store)

    async def check_content(
        self, view: ViewBase, clients: Sequence[OmniClient], options: OmniRestoreOptions
    ) -> ContentReport:
        return await check_content(view, clients, options)


OMNI = OmniPlatform()
