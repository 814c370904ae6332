"""Backup's walk of a Lightdash instance: the handlers' root listings (people), then each
selected project (the client's `project`, else every project of the organization) with
every handler's per-project listings (access, spaces, charts, dashboards, schedulers).

Each project's content check (`content.py`: the project validator) is read beside them.

Incremental by `updatedAt`: the chart and dashboard handlers download only what changed
since the last snapshot (`Context.kept`); the rest keep the last snapshot's entries.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from omnimigrate.engine.jobs import LISTING, Job, JobResult, UnknownJob
from omnimigrate.engine.scope import PathFilter
from omnimigrate.platforms.lightdash import content
from omnimigrate.platforms.lightdash.client import (
    INHERIT,
    ISPRIVATE,
    ContentRef,
    LightdashClient,
    select_project,
)
from omnimigrate.platforms.lightdash.handler import Args, BackupJob
from omnimigrate.platforms.lightdash.registry import HANDLERS
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest, ObjectEntry


class FilterUnsupported(Exception):
    """--include/--exclude given for a Lightdash backup."""


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


class LightdashWalker:
    """The engine's walker for Lightdash. Spaces, charts and dashboards are its content."""

    content_types = ("ld_space", "ld_chart", "ld_dashboard")

    def __init__(self, blobs: BlobStore, scope: PathFilter, previous: Manifest | None) -> None:
        if scope.include or scope.exclude:
            raise FilterUnsupported(
                "a Lightdash backup takes no --include/--exclude (it backs up whole projects): "
                "choose the project with --project instead"
            )
        self.blobs = blobs
        kept = ("ld_chart", "ld_dashboard")
        self.context = Context(
            blobs,
            {(o.type, o.key): o for o in previous.objects if o.type in kept} if previous else {},
            per_project=(
                *(kind for h in HANDLERS for kind in h.per_project),
                content.VALIDATION_JOB,
            ),
        )
        self._jobs: dict[str, BackupJob] = {"ld_projects": projects, **content.JOBS}
        for h in HANDLERS:
            self._jobs |= h.jobs

    @property
    def exports(self) -> int:
        return self.context.exports

    @property
    def reused(self) -> int:
        return self.context.reused

    @property
    def job_kinds(self) -> frozenset[str]:
        return frozenset(self._jobs)

    def roots(self) -> list[Job]:
        kinds = [k for h in HANDLERS for k in h.roots] + ["ld_projects"]
        return [Job(kind=k, priority=LISTING) for k in kinds]

    async def run(self, job: Job, client: LightdashClient) -> JobResult:
        do = self._jobs.get(job.kind)
        if do is None:
            raise UnknownJob(job)
        return await do(self.context, client, job.args)
