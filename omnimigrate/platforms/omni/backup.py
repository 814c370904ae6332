"""Backup's walk of an Omni instance. Each job is done by the handler that owns its kind; a
listing job records the objects it lists and queues one job per object that needs its own
request (an export, a permission list, a model's YAML).

Org-scope content comes from one listing; restricted (personal) content only from a walk per
owner (DIGEST G19), so the user listing queues each handler's `per_user` jobs for each user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from omnimigrate.engine.handler import JobTemplate
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.scope import PathFilter
from omnimigrate.errors import ApiStatusError
from omnimigrate.http.retry import permanent
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import ObjectEntry
from omnimigrate.snapshot.secrets import find_secrets


@dataclass
class BackupContext:
    """What every backup job shares: the blob store, the folder scope, and (incremental) the
    last snapshot's export entries by document identifier."""

    blobs: BlobStore
    scope: PathFilter = field(default_factory=PathFilter)
    previous: dict[str, ObjectEntry] = field(default_factory=dict)
    per_user: tuple[JobTemplate, ...] = ()
    per_group: tuple[JobTemplate, ...] = ()
    exports: int = 0
    reused: int = 0

    async def entry(self, type_: str, key: str, obj: Any, **fields: Any) -> ObjectEntry:
        ref = await asyncio.to_thread(self.blobs.put, obj)
        flags = [
            f"holds a secret at {where}: kept for restore, masked in output; encrypt the store"
            for where in find_secrets(obj)
        ]
        return ObjectEntry(type=type_, key=key, blob=ref, warnings=flags, **fields)

    async def refusable(
        self, type_: str, args: Mapping[str, str], read: Callable[[], Awaitable[Any]]
    ) -> JobResult:
        """Read one object; a refusal (403, 404: gone since the listing) becomes a warning."""
        try:
            obj = await read()
        except ApiStatusError as err:
            if not permanent(err):
                raise
            warning = f"not readable ({err.status}): {err.detail}"
            entry = ObjectEntry(
                type=type_, key=args["key"], source_id=args["id"], warnings=[warning]
            )
            return JobResult(entries=[entry])
        return JobResult(entries=[await self.entry(type_, args["key"], obj, source_id=args["id"])])


async def dump_all(items: Any) -> list[dict[str, Any]]:
    return [item.dump() async for item in items]
