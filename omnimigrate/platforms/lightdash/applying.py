"""Restore's writes to a Lightdash target: what every handler's apply shares. Uuids come
from the plan's inventory plus what this run creates (`ids`, typed by the part of them a
handler reads: `ApplyContext[Ids]`; another type's with `engine.parts.part(ctx.ids,
Other.Ids)`); every write is an upsert by natural key or is looked up before it is sent
again, so a re-run after a kill makes no duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar, cast

from omnimigrate.engine.plan import Action
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.platforms.lightdash.client import LightdashClient
from omnimigrate.platforms.lightdash.natural_keys import InventoryBase
from omnimigrate.platforms.lightdash.planning import LightdashPlan
from omnimigrate.snapshot.blobs import BlobStore

IdsT = TypeVar("IdsT")  # the target's uuids, as the part a handler reads


class ApplyContext(Generic[IdsT]):
    def __init__(
        self, plan: LightdashPlan, blobs: BlobStore, ledger: RestoreLedger, creates: frozenset[str]
    ) -> None:
        """`creates`: the action kinds that make a new object (the registry's)."""
        self.creates = creates
        # the target as planned, and what this run makes on it (a space's uuid and slug, a
        # server found flat by its first create)
        self.inv: InventoryBase = plan.inventory.model_copy(deep=True)
        self.ids: IdsT = cast(IdsT, self.inv.ids)
        self.blobs = blobs
        self.ledger = ledger
        self._users: dict[int, str] = {}  # id(client) -> the uuid of its token's user
        self._locks: dict[str, asyncio.Lock] = {}
        self.planned = {a.id for a in plan.actions}

    async def done(self, action: Action, target: str | None = None, **detail: str) -> None:
        made = action.kind in self.creates and action.op == "create"  # keeps the intent's key
        record = LedgerRecord(status="done", digest=action.digest, target=target, detail=detail,
                              key=action.object if made else None)  # fmt: skip
        await self.write(action.id, record)

    async def write(self, key: str, record: LedgerRecord) -> None:
        await asyncio.to_thread(self.ledger.write, key, record)

    async def token_user(self, client: LightdashClient) -> str:
        """Whom a client's writes are made as: asked once per client."""
        if id(client) not in self._users:
            self._users[id(client)] = (await client.me()).uuid
        return self._users[id(client)]

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """One writer at a time on `name`: writes of a type that read, change and put back
        what several actions share (a project's YAML tags, replaced all at once)."""
        async with self._locks.setdefault(name, asyncio.Lock()):
            yield

    def project(self, name: str) -> str:
        return self.inv.ids.projects[name]

    async def blob(self, ref: str) -> Any:
        return await asyncio.to_thread(self.blobs.get, ref)
