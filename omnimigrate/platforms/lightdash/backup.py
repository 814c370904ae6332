"""What every Lightdash backup job shares (`Context`), and the project listing the walk
starts each project from: the handlers' root listings (people), then each selected project
(the client's `project`, else every project of the organization) with every handler's
per-project listings (`Handler.per_project`).

Incremental by `updatedAt`: a handler that `keeps` its entry types downloads only what
changed since the last snapshot (`Context.kept`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from omnimigrate.engine.jobs import LISTING, Job, JobResult
from omnimigrate.platforms.lightdash.client import (
    INHERIT,
    ISPRIVATE,
    ContentRef,
    LightdashClient,
    select_project,
)
from omnimigrate.platforms.lightdash.handler import Args
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import ObjectEntry


@dataclass
class Context:
    blobs: BlobStore
    previous: dict[tuple[str, str], ObjectEntry] = field(default_factory=dict)
    per_project: tuple[str, ...] = ()  # the listing jobs queued for each project
    exports: int = 0
    reused: int = 0

    def kept_content(self, code: dict[str, Any]) -> dict[str, Any]:
        """What is kept of a download: not the moment it was made."""
        return {k: v for k, v in code.items() if k != "downloadedAt"}

    async def entry(self, type_: str, key: str, obj: Any, **fields: Any) -> ObjectEntry:
        ref = await asyncio.to_thread(self.blobs.put, obj)
        return ObjectEntry(type=type_, key=key, blob=ref, **fields)

    def kept(self, type_: str, key: str, ref: ContentRef) -> ObjectEntry | None:
        """The last snapshot's entry, when the object has not changed since."""
        old = self.previous.get((type_, key))
        if old and old.updated_at == ref.updated_at and old.source_id == ref.uuid and old.blob:
            self.reused += 1
            return old
        return None


async def projects(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    found = await client.projects()
    chosen = [select_project(found, client.project, client.base_url)] if client.project else found
    modern = await client.modern()
    server = {"version": await client.version(), "generation": await client.generation(),
              "space_model": INHERIT if modern else ISPRIVATE}  # fmt: skip
    entries, children = [ObjectEntry(type="ld_server", key="server", refs=server)], []
    for p in chosen:
        entries.append(ObjectEntry(type="ld_project", key=p.name, source_id=p.uuid))
        scope = {"project": p.uuid, "name": p.name}
        children += [Job(kind=k, args=scope, priority=LISTING) for k in ctx.per_project]
    return JobResult(entries=entries, children=children)
