"""Lightdash as the engine sees it (`omnimigrate.engine.platform.Platform`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from pydantic import SecretStr, ValidationError

from omnimigrate.engine.content import ContentReport
from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.platform import InstanceUnusable
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.engine.scope import PathFilter
from omnimigrate.engine.verify import VerifyReport
from omnimigrate.http.client import pool_of
from omnimigrate.http.errors import OmniAPIError, OmniAuthError, OmniTransportError
from omnimigrate.http.identify import NOT_LIGHTDASH, lightdash_version
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.http.sessions import SessionFactory
from omnimigrate.platforms.lightdash import content
from omnimigrate.platforms.lightdash.applying import LightdashRunner
from omnimigrate.platforms.lightdash.backup import LightdashWalker
from omnimigrate.platforms.lightdash.client import LightdashClient, ProjectNotFound, select_project
from omnimigrate.platforms.lightdash.model import SnapshotView, TargetInventory
from omnimigrate.platforms.lightdash.planning import LightdashPlan, check_options, make_plan
from omnimigrate.platforms.lightdash.reading import load_view, read_target
from omnimigrate.platforms.lightdash.registry import ACTIONS, HANDLERS
from omnimigrate.platforms.lightdash.verifying import verify
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest

client_pool = partial(pool_of, LightdashClient)


async def preflight(
    url: str,
    tokens: list[SecretStr],
    names: list[str],
    timeout: float,
    sessions: SessionFactory,
    project: str | None = None,
) -> None:
    """`GET /api/v1/org/projects` per token: the instance answers, takes the token, and has
    the project asked for."""
    async with sessions() as session:
        for token, name in zip(tokens, names, strict=True):
            client = LightdashClient(
                url, token, session=session, timeout=timeout, retry=RetryPolicy(attempts=1)
            )
            try:
                found = await client.projects()
            except OmniTransportError as err:
                raise InstanceUnusable(
                    f"{url} did not answer ({err.message}): check the URL and the network",
                    configuration=False,
                ) from None
            except OmniAuthError as err:
                other = "" if await lightdash_version(session, url, timeout) else NOT_LIGHTDASH
                raise InstanceUnusable(
                    f"{url} refused the token in ${name} ({err.status}: {err.detail}): put a "
                    f"Lightdash personal access token of an organization admin in it{other}"
                ) from None
            except (OmniAPIError, ValidationError, AttributeError, TypeError) as err:
                other = "" if await lightdash_version(session, url, timeout) else NOT_LIGHTDASH
                raise InstanceUnusable(
                    f"{url} did not answer as Lightdash's API does ({err}): check that the URL "
                    f"is the instance's origin, for example https://app.lightdash.cloud{other}",
                    configuration=False,
                ) from None
            if project:
                try:
                    select_project(found, project, url)
                except ProjectNotFound as err:
                    raise InstanceUnusable(str(err)) from None


class LightdashPlatform:
    name = "lightdash"
    plan_type = LightdashPlan
    action_kinds = frozenset(ACTIONS)
    client_pool = staticmethod(client_pool)
    preflight = staticmethod(preflight)
    check_options = staticmethod(check_options)

    def walker(
        self, blobs: BlobStore, scope: PathFilter, previous: Manifest | None
    ) -> LightdashWalker:
        return LightdashWalker(blobs, scope, previous)

    def snapshot_view(self, manifest: Manifest, blobs: BlobStore) -> SnapshotView:
        return load_view(manifest, blobs)

    async def read_inventory(
        self, clients: Sequence[LightdashClient], view: SnapshotView
    ) -> TargetInventory:
        return TargetInventory.of(await read_target(clients, view))

    def plan(
        self,
        view: SnapshotView,
        inventory: TargetInventory,
        ledger: dict[str, LedgerRecord],
        options: RestoreOptions,
        now: datetime,
    ) -> LightdashPlan:
        return make_plan(view, inventory, ledger, options, now, HANDLERS)

    def runner(
        self, plan: LightdashPlan, blobs: BlobStore, ledger: RestoreLedger
    ) -> LightdashRunner:
        return LightdashRunner(plan, blobs, ledger)

    async def verify(
        self, view: SnapshotView, clients: Sequence[LightdashClient], **_: Any
    ) -> VerifyReport:
        return await verify(view, clients)

    async def check_content(
        self, view: SnapshotView, clients: Sequence[LightdashClient], options: RestoreOptions
    ) -> ContentReport:
        return await content.check(view, clients, options)


LIGHTDASH = LightdashPlatform()
