"""Lightdash as the engine sees it (`omnimigrate.engine.platform.Platform`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from omnimigrate.engine.content import ContentReport
from omnimigrate.engine.handler import Runner, Walker
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.engine.scope import PathFilter
from omnimigrate.engine.verify import VerifyReport
from omnimigrate.http.client import pool_of
from omnimigrate.platforms.lightdash import content
from omnimigrate.platforms.lightdash.applying import ApplyContext
from omnimigrate.platforms.lightdash.backup import Context, projects
from omnimigrate.platforms.lightdash.client import (
    INHERIT,
    ISPRIVATE,
    LightdashClient,
)
from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
from omnimigrate.platforms.lightdash.options import (
    LightdashRestoreOptions,
    LightdashVerifyOptions,
)
from omnimigrate.platforms.lightdash.planning import LightdashPlan, make_plan
from omnimigrate.platforms.lightdash.preflight import LightdashChecks
from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader, project_map
from omnimigrate.platforms.lightdash.registry import (
    PLAN,
    REGISTRY,
    Project,
    SnapshotView,
    TargetInventory,
    TargetState,
)
from omnimigrate.platforms.lightdash.verifying import verify
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest
from omnimigrate.snapshot.store import Store

client_pool = partial(pool_of, LightdashClient)


class FilterUnsupported(Exception):
    """--include/--exclude given for a Lightdash backup."""


def load_view(manifest: Manifest, blobs: BlobStore) -> ViewBase:
    """Every handler loads its part, in restore order, then the projects' content checks."""
    view = SnapshotView(snapshot_id=manifest.snapshot_id, instance=manifest.instance)
    view.projects = {
        o.key: Project(name=o.key, uuid=o.source_id or "") for o in manifest.of_type("ld_project")
    }
    for o in manifest.of_type("ld_server"):
        view.source_version = (o.refs or {}).get("version") or view.source_version
        view.space_model = (o.refs or {}).get("space_model") or view.space_model
    reader = SnapshotReader(manifest, blobs)
    for handler in REGISTRY.handlers:
        if handler.load:
            handler.load(reader, view)
    content.load(reader, view)
    return view


async def read_target(clients: Sequence[LightdashClient], view: ViewBase) -> StateBase:
    """Every handler reads its part of the target, in restore order: the organization-wide
    ones once, the rest per project the snapshot maps to."""
    state = TargetState(url=clients[0].base_url)
    state.ids.projects = await project_map(clients[0], view)
    state.space_model = INHERIT if await clients[0].modern() else ISPRIVATE
    org = TargetReader(clients, view, state)
    for handler in REGISTRY.handlers:
        if handler.read and handler.org_wide:
            await handler.read(org)
    for name in state.ids.projects:
        state.projects[name] = Project(name=name)
        reader = TargetReader(clients, view, state, name)
        for handler in REGISTRY.handlers:
            if handler.read and not handler.org_wide:
                await handler.read(reader)
    return state


def inventory_of(state: StateBase) -> InventoryBase:
    """The target as a plan keeps it: each handler's digests of its part of the state."""
    inv = TargetInventory(url=state.url, ids=state.ids, space_model=state.space_model)
    for handler in REGISTRY.handlers:
        if handler.inventory:
            handler.inventory(state, inv)
    return inv


class LightdashPlatform:
    name = "lightdash"
    plan_type = PLAN
    action_kinds = frozenset(REGISTRY.actions)
    client_pool = staticmethod(client_pool)
    explain_order = staticmethod(REGISTRY.explain_order)
    options_type = LightdashRestoreOptions
    verify_options_type = LightdashVerifyOptions

    def checks(self, project: str | None = None) -> LightdashChecks:
        return LightdashChecks(project)

    def walker(
        self, blobs: BlobStore, scope: PathFilter, previous: Manifest | None
    ) -> Walker[Context]:
        """The handlers' walk, after the organization's projects (`backup.projects`), each
        with its content check (`content.py`: the project validator) beside its listings."""
        if scope.include or scope.exclude:
            raise FilterUnsupported(
                "a Lightdash backup takes no --include/--exclude (it backs up whole projects): "
                "choose the project with --project instead"
            )
        kept = [o for o in previous.objects if o.type in REGISTRY.keeps] if previous else []
        context = Context(
            blobs,
            {(o.type, o.key): o for o in kept},
            per_project=(
                *(kind for h in REGISTRY.handlers for kind in h.per_project),
                content.VALIDATION_JOB,
            ),
        )
        jobs = {"ld_projects": projects, **content.JOBS}
        return Walker(context, REGISTRY, jobs=jobs, roots=("ld_projects",))

    def snapshot_view(self, manifest: Manifest, blobs: BlobStore) -> ViewBase:
        return load_view(manifest, blobs)

    async def read_inventory(
        self, clients: Sequence[LightdashClient], view: ViewBase
    ) -> InventoryBase:
        return inventory_of(await read_target(clients, view))

    def plan(
        self,
        view: ViewBase,
        inventory: InventoryBase,
        ledger: dict[str, LedgerRecord],
        options: LightdashRestoreOptions,
        now: datetime,
    ) -> LightdashPlan:
        return make_plan(view, inventory, ledger, options, now, REGISTRY, PLAN)

    def runner(
        self, plan: LightdashPlan, blobs: BlobStore, ledger: RestoreLedger
    ) -> Runner[ApplyContext]:
        creates = frozenset(kind for kind, how in REGISTRY.actions.items() if how.creates)
        return Runner(REGISTRY, ApplyContext(plan, blobs, ledger, creates))

    async def verify(
        self,
        view: ViewBase,
        clients: Sequence[LightdashClient],
        options: LightdashVerifyOptions | None = None,
        *,
        concurrency: int = 4,
        store: Store | None = None,
    ) -> VerifyReport:
        """`options`: nothing of its own yet; `concurrency` and `store` go unused (the target
        is read as a restore reads it)."""
        return verify(view, await read_target(clients, view), clients, REGISTRY.handlers)

    async def check_content(
        self,
        view: ViewBase,
        clients: Sequence[LightdashClient],
        options: LightdashRestoreOptions,
    ) -> ContentReport:
        return await content.check(view, clients, options)


LIGHTDASH = LightdashPlatform()
