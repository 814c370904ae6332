"""What each backup job does. A listing job records the objects it lists and queues one job
per object that needs its own request (an export, a permission list, a model's YAML).

Org-scope content comes from one listing; restricted (personal) content only from a walk per
owner (DIGEST G19), so the user listing queues one such walk per user.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from omnimigrate.backup.scope import PathFilter
from omnimigrate.jobs.model import EXPORT, LISTING, Job, JobResult
from omnimigrate.omni import models as m
from omnimigrate.omni.client import OmniClient
from omnimigrate.omni.errors import OmniAPIError
from omnimigrate.omni.retry import permanent
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import ObjectEntry
from omnimigrate.snapshot.secrets import find_secrets

YAML_KINDS = ("SHARED", "SHARED_EXTENSION")
ROOT_LISTINGS = (
    "labels",
    "connections",
    "users",
    "groups",
    "email_only_users",
    "folders",
    "documents",
    "schedules",
)


@dataclass
class WalkStats:
    exports: int = 0
    reused: int = 0


@dataclass
class Walker:
    """`previous` maps document identifiers to their export entries in the last snapshot."""

    blobs: BlobStore
    scope: PathFilter = field(default_factory=PathFilter)
    previous: dict[str, ObjectEntry] = field(default_factory=dict)
    stats: WalkStats = field(default_factory=WalkStats)

    @staticmethod
    def roots() -> list[Job]:
        return [Job(kind=kind, priority=LISTING) for kind in ROOT_LISTINGS]

    async def run(self, job: Job, client: OmniClient) -> JobResult:
        handler: Callable[[OmniClient, dict[str, str]], Awaitable[JobResult]] = getattr(
            self, f"_{job.kind}"
        )
        return await handler(client, job.args)

    async def _entry(self, type_: str, key: str, obj: Any, **fields: Any) -> ObjectEntry:
        ref = await asyncio.to_thread(self.blobs.put, obj)
        flags = [
            f"holds a secret at {where}: kept for restore, masked in output; encrypt the store"
            for where in find_secrets(obj)
        ]
        return ObjectEntry(type=type_, key=key, blob=ref, warnings=flags, **fields)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ listings

    async def _labels(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        labels = await client.list_labels()
        return JobResult(entries=[await self._entry("label", lb.name, lb.dump()) for lb in labels])

    async def _connections(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        """Connections (metadata only: the API returns no secrets) and their models."""
        connections = await client.list_connections()
        names = {c.id: c.name for c in connections}
        result = JobResult()
        for c in connections:
            result.entries.append(await self._entry("connection", c.name, c.dump(), source_id=c.id))
        async for model in client.list_models():
            key = f"{names.get(model.connection_id or '', model.connection_id)}/{model.model_kind}/{model.name}"
            result.entries.append(
                await self._entry(
                    "model", key, model.dump(), source_id=model.id, updated_at=model.updated_at
                )
            )
            if model.model_kind in YAML_KINDS:
                result.children.append(Job(kind="model_yaml", args={"id": model.id, "key": key}))
        return result

    async def _users(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        result = JobResult()
        async for user in client.list_users():
            email = user.user_name.lower()
            result.entries.append(await self._entry("user", email, user.dump(), source_id=user.id))
            ids = {"id": user.id, "key": email}
            result.children += [
                Job(kind="user_content", args=ids, priority=LISTING),
                Job(kind="user_model_roles", args=ids),
            ]
        return result

    async def _groups(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        result = JobResult()
        async for group in client.list_groups():
            name = group.display_name
            result.entries.append(
                await self._entry("group", name, group.dump(), source_id=group.id)
            )
            result.children.append(
                Job(kind="group_model_roles", args={"id": group.id, "key": name})
            )
        return result

    async def _email_only_users(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        """Optional: a refusal (an admin-only list) makes the snapshot partial, not failed."""
        try:
            return JobResult(
                entries=[
                    await self._entry(
                        "email_only_user", u.email.lower(), u.dump(), source_id=u.user_id
                    )
                    async for u in client.list_email_only_users()
                ]
            )
        except OmniAPIError as err:
            if not permanent(err):
                raise
            return JobResult(lost=[f"email-only users not readable ({err.status}): {err.detail}"])

    async def _folders(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        """Organization folders: asked for by scope, since the official folder record has
        no `scope` of its own (restricted ones come from the walk per owner)."""
        return await self._folder_records(client.list_folders(scope="organization"), "organization")

    async def _documents(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        return await self._document_records(client.list_documents(include_deleted=True))

    async def _user_content(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        """One owner's restricted folders and documents."""
        folders = await self._folder_records(
            client.list_folders(scope="restricted", ownerId=args["id"]), "restricted"
        )
        docs = await self._document_records(
            client.list_documents(include_deleted=True, creatorId=args["id"]),
            only_scope="restricted",
        )
        return JobResult(
            entries=folders.entries + docs.entries, children=folders.children + docs.children
        )

    async def _schedules(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        return JobResult(
            children=[
                Job(kind="schedule", args={"id": s.id, "summary": json.dumps(s.dump())})
                async for s in client.list_schedules()
            ]
        )

    async def _folder_records(self, folders: Any, listed_as: str) -> JobResult:
        """A folder's scope is the one it was listed under, unless its record names one (the
        older spec's shape); its owner is `ownerId` (official) or `owner.id` (older)."""
        result = JobResult()
        async for folder in folders:
            if not self.scope(folder.path):
                continue
            raw = {**folder.dump(), "scope": folder.scope or listed_as}
            entry = await self._entry("folder", folder.path, raw, source_id=folder.id)
            if not folder.owner_ref:
                entry.warnings.append("no ownerId or owner.id in the folder record")
            result.entries.append(entry)
            result.children.append(
                Job(kind="folder_permissions", args={"id": folder.id, "key": folder.path})
            )
        return result

    async def _document_records(self, docs: Any, only_scope: str | None = None) -> JobResult:
        result = JobResult()
        async for doc in docs:
            if only_scope and doc.scope != only_scope:
                continue
            if not self.scope(doc.folder.path if doc.folder else ""):
                continue
            result.entries.append(
                await self._entry("document", doc.identifier, doc.dump(), updated_at=doc.updated_at)
            )
            reused = self._reused_export(doc)
            result.entries += reused
            ids = {"id": doc.identifier, "key": doc.identifier}
            if not reused:
                export_args = {**ids, "updated_at": doc.updated_at or ""}
                result.children.append(Job(kind="export", args=export_args, priority=EXPORT))
            if not doc.deleted:  # the trash has no permissions to read
                result.children.append(Job(kind="document_permissions", args=ids))
        return result

    def _reused_export(self, doc: m.Document) -> list[ObjectEntry]:
        """Incremental: an unchanged document keeps its last export (or Omni's refusal to
        export it) with no request; `--full` asks again."""
        last = self.previous.get(doc.identifier)
        if last is None or not doc.updated_at or last.updated_at != doc.updated_at:
            return []
        self.stats.reused += 1
        return [last]

    # ------------------------------------------------------------------ per-object reads

    async def _export(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        key, updated = args["key"], args["updated_at"] or None
        self.stats.exports += 1
        try:
            export = await client.export_document(args["id"])
        except OmniAPIError as err:
            if not permanent(err):
                raise
            warning = f"export refused by Omni ({err.status}): {err.detail}"
            entry = ObjectEntry(
                type="document_export", key=key, updated_at=updated, warnings=[warning]
            )
            return JobResult(entries=[entry])
        refs = {"base_model_id": export.base_model_id}
        entry = await self._entry(
            "document_export", key, export.dump(), updated_at=updated, refs=refs
        )
        return JobResult(entries=[entry], facts={"export_flavour": export.flavour})

    async def _document_permissions(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        return await self._refusable(
            "document_permissions",
            args,
            lambda: _dump_all(client.access_list(args["id"])),
        )

    async def _folder_permissions(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        async def permits() -> list[dict[str, Any]]:
            return [p.dump() for p in await client.folder_permits(args["id"])]

        return await self._refusable("folder_permissions", args, permits)

    async def _model_yaml(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        lost: list[str] = []

        async def files() -> dict[str, Any]:
            """The model's own layer (`extension`): `combined`, the default, has the schema
            model's views in it too, which a restore would freeze into copies."""
            yaml = await client.get_model_yaml(args["id"], mode="extension")
            try:
                git = await client.model_git(args["id"])
            except OmniAPIError as err:
                if not permanent(err):
                    raise
                lost.append(f"git settings of {args['key']} ({err.status}): {err.detail}")
                git = None
            return {"yaml": yaml.dump(), "git": git.dump() if git else None, "layer": "extension"}

        result = await self._refusable("model_yaml", args, files)
        result.lost += lost
        return result

    async def _user_model_roles(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        async def roles() -> dict[str, Any]:
            return (await client.user_model_roles(args["id"])).dump()

        return await self._refusable("user_model_roles", args, roles)

    async def _group_model_roles(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        async def roles() -> dict[str, Any]:
            return (await client.group_model_roles(args["id"])).dump()

        return await self._refusable("group_model_roles", args, roles)

    async def _schedule(self, client: OmniClient, args: dict[str, str]) -> JobResult:
        summary = m.ScheduleSummary.model_validate(json.loads(args["summary"]))
        key = f"{summary.identifier}/{summary.name}"

        async def detail() -> dict[str, Any]:
            schedule = await client.get_schedule(summary.id)
            recipients = await client.schedule_recipients(summary.id)
            return {
                "summary": summary.dump(),
                "schedule": schedule.dump(),
                "recipients": recipients.dump(),
            }

        return await self._refusable("schedule", {"id": summary.id, "key": key}, detail)

    async def _refusable(
        self, type_: str, args: dict[str, str], read: Callable[[], Awaitable[Any]]
    ) -> JobResult:
        """Read one object; a refusal (403, 404: gone since the listing) becomes a warning."""
        try:
            obj = await read()
        except OmniAPIError as err:
            if not permanent(err):
                raise
            warning = f"not readable ({err.status}): {err.detail}"
            entry = ObjectEntry(
                type=type_, key=args["key"], source_id=args["id"], warnings=[warning]
            )  # type: ignore[arg-type]
            return JobResult(entries=[entry])
        return JobResult(entries=[await self._entry(type_, args["key"], obj, source_id=args["id"])])


async def _dump_all(items: Any) -> list[dict[str, Any]]:
    return [item.dump() async for item in items]
