"""Restore's writes to a Lightdash target: what every handler's apply shares. Uuids and
slugs come from the plan's inventory plus what this run creates; every write is an upsert
by natural key or is looked up before it is sent again, so a re-run after a kill makes no
duplicate."""

from __future__ import annotations

import asyncio
from typing import Any

from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.plan import Action
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.platforms.lightdash.client import LightdashClient
from omnimigrate.platforms.lightdash.natural_keys import TargetIds, space_key
from omnimigrate.platforms.lightdash.planning import LightdashPlan
from omnimigrate.snapshot.blobs import BlobStore


class ApplyContext:
    def __init__(
        self, plan: LightdashPlan, blobs: BlobStore, ledger: RestoreLedger, creates: frozenset[str]
    ) -> None:
        """`creates`: the action kinds that make a new object (the registry's)."""
        self.creates = creates
        self.ids: TargetIds = plan.inventory.ids.model_copy(deep=True)
        self.blobs = blobs
        self.ledger = ledger
        self._users: dict[int, str] = {}  # id(client) -> the uuid of its token's user
        self.planned = {a.id for a in plan.actions}
        self.flat: set[str] = set(plan.inventory.flat)  # projects whose server keeps no parents

    async def done(self, action: Action, target: str | None = None, **detail: str) -> None:
        made = action.kind in self.creates and action.op == "create"  # keeps the intent's key
        record = LedgerRecord(status="done", digest=action.digest, target=target, detail=detail,
                              key=action.object if made else None)  # fmt: skip
        await self.write(action.id, record)

    async def write(self, key: str, record: LedgerRecord) -> None:
        await asyncio.to_thread(self.ledger.write, key, record)

    def creator(self, space_action: str) -> str | None:
        """Who created a space this restore made (the ledger has it from the create)."""
        rec = self.ledger.records.get(space_action)
        return rec.detail.get("creator") or None if rec else None

    async def token_user(self, client: LightdashClient) -> str:
        """Whom a client's writes are made as (a space's creator): asked once per client."""
        if id(client) not in self._users:
            self._users[id(client)] = (await client.me()).uuid
        return self._users[id(client)]

    def project(self, name: str) -> str:
        return self.ids.projects[name]

    def user(self, email: str) -> str:
        if email not in self.ids.users:
            raise RestoreError(f"user {email} is not on the target")
        return self.ids.users[email]

    def group(self, name: str) -> str:
        if name not in self.ids.groups:
            raise RestoreError(f"group {name} is not on the target")
        return self.ids.groups[name]

    def space(self, project: str, path: list[str]) -> tuple[str, str]:
        found = self.ids.spaces.get(space_key(project, path))
        if found is None:
            raise RestoreError(f"space {'/'.join(path)} is not on the target project {project}")
        return found

    async def upload_body(self, a: Action) -> dict[str, Any]:
        """A chart's or dashboard's code as uploaded: into the target space's slug, which
        omnimigrate made with its access (so Lightdash must not make one)."""
        code = await asyncio.to_thread(self.blobs.get, a.params["blob"])
        space = self.space(a.params["project"], a.params["space"])[1]
        return {**code, "slug": a.params["slug"], "spaceSlug": space, "skipSpaceCreate": True}
