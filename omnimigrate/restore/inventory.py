"""What the target instance holds, by natural key, read through the API before planning.

The inventory's digest goes into a saved plan: `restore --plan` refuses a plan whose target
has changed since, and names what changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from typing import Any

from pydantic import BaseModel, Field

from omnimigrate.omni.client import OmniClient
from omnimigrate.omni.models import Document, Folder
from omnimigrate.snapshot.blobs import canonical_json


class TargetFolder(BaseModel):
    id: str
    path: str
    name: str | None = None
    scope: str
    owner_id: str | None = None


class TargetDocument(BaseModel):
    identifier: str
    name: str | None = None
    description: str | None = None
    folder_path: str | None = None
    scope: str | None = None
    owner_id: str | None = None
    labels: list[str] = Field(default_factory=list)


class TargetModel(BaseModel):
    id: str
    key: str  # connection name/kind/name
    kind: str | None = None


class TargetSchedule(BaseModel):
    id: str
    key: str  # identifier/name
    paused: bool
    summary: dict[str, Any] = Field(default_factory=dict)  # the fields a delivery reads


# what read_delivery and verify's owner check read of a list record
SUMMARY_FIELDS = (
    "name", "schedule", "timezone", "format", "destinationType", "slackRecipientType", "ownerId"
)  # fmt: skip


class TargetInventory(BaseModel):
    url: str
    labels: dict[str, dict[str, object]] = Field(default_factory=dict)  # lower name -> flags
    connections: dict[str, str] = Field(default_factory=dict)  # name -> id
    models: dict[str, TargetModel] = Field(default_factory=dict)
    users: dict[str, str] = Field(default_factory=dict)  # email -> id
    email_only: dict[str, str] = Field(default_factory=dict)  # email -> id
    groups: dict[str, str] = Field(default_factory=dict)  # name -> id
    folders: dict[str, TargetFolder] = Field(default_factory=dict)
    documents: dict[str, TargetDocument] = Field(default_factory=dict)
    schedules: dict[str, TargetSchedule] = Field(default_factory=dict)

    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()

    def differences(self, other: TargetInventory) -> list[str]:
        """What changed between two inventories, per object type (for drift messages)."""
        changes = []
        mine, theirs = self.model_dump(mode="json"), other.model_dump(mode="json")
        for field, value in mine.items():
            if isinstance(value, dict) and value != theirs.get(field):
                new = sorted(set(theirs[field]) - set(value))
                gone = sorted(set(value) - set(theirs[field]))
                changed = sorted(
                    k for k in set(value) & set(theirs[field]) if value[k] != theirs[field][k]
                )
                parts = (
                    [f"+{k}" for k in new[:3]]
                    + [f"-{k}" for k in gone[:3]]
                    + [f"~{k}" for k in changed[:3]]
                )
                changes.append(f"{field}: {', '.join(parts)}")
        return changes


async def read_inventory(clients: list[OmniClient]) -> TargetInventory:
    """Every listing at once, each on the next of the target's keys, then the walks per
    user (restricted content) likewise: with three keys, a third of the time."""
    keys = itertools.cycle(clients)
    inv = TargetInventory(url=clients[0].base_url)
    await asyncio.gather(
        _labels(next(keys), inv),
        _models(next(keys), inv),
        _people(next(keys), inv),
        _groups(next(keys), inv),
        _organization_content(next(keys), inv),
        _schedules(next(keys), inv),
    )
    await asyncio.gather(*(_personal_content(next(keys), inv, u) for u in inv.users.values()))
    return inv


async def _labels(client: OmniClient, inv: TargetInventory) -> None:
    for label in await client.list_labels():
        inv.labels[label.name.lower()] = {
            "verified": label.verified,
            "homepage": label.homepage,
            "color": label.color,
            "description": label.description,
        }


async def _models(client: OmniClient, inv: TargetInventory) -> None:
    inv.connections = {c.name: c.id for c in await client.list_connections()}
    names = {v: k for k, v in inv.connections.items()}
    async for model in client.list_models():
        key = f"{names.get(model.connection_id or '', model.connection_id)}/{model.model_kind}/{model.name}"
        inv.models[key] = TargetModel(id=model.id, key=key, kind=model.model_kind)


async def _people(client: OmniClient, inv: TargetInventory) -> None:
    async for user in client.list_users():
        inv.users[user.user_name.lower()] = user.id
    async for eo in client.list_email_only_users():
        inv.email_only[eo.email.lower()] = eo.user_id


async def _groups(client: OmniClient, inv: TargetInventory) -> None:
    async for group in client.list_groups():
        inv.groups[group.display_name] = group.id


async def _schedules(client: OmniClient, inv: TargetInventory) -> None:
    async for s in client.list_schedules():
        raw = s.dump()
        inv.schedules[f"{s.identifier}/{s.name}"] = TargetSchedule(
            id=s.id,
            key=f"{s.identifier}/{s.name}",
            paused=bool(s.disabled_at),
            summary={k: raw[k] for k in SUMMARY_FIELDS if k in raw},
        )


async def _organization_content(client: OmniClient, inv: TargetInventory) -> None:
    """A folder's scope is the one it was listed under (the official record has none)."""
    async for folder in client.list_folders(scope="organization"):
        inv.folders[folder.path] = _folder(folder, "organization")
    async for doc in client.list_documents():
        inv.documents[doc.identifier] = _doc(doc)


async def _personal_content(client: OmniClient, inv: TargetInventory, user_id: str) -> None:
    """One user's restricted folders and documents: they come only from a walk per owner."""
    async for folder in client.list_folders(scope="restricted", ownerId=user_id):
        inv.folders[folder.path] = _folder(folder, "restricted")
    async for doc in client.list_documents(creatorId=user_id):
        inv.documents.setdefault(doc.identifier, _doc(doc))


def _folder(folder: Folder, listed_as: str) -> TargetFolder:
    return TargetFolder(
        id=folder.id,
        path=folder.path,
        name=folder.name,
        scope=folder.scope or listed_as,
        owner_id=folder.owner_ref,
    )


def _doc(doc: Document) -> TargetDocument:
    return TargetDocument(
        identifier=doc.identifier,
        name=doc.name,
        description=doc.description,
        folder_path=doc.folder.path if doc.folder else None,
        scope=doc.scope,
        owner_id=doc.owner.id if doc.owner else None,
        labels=sorted(x if isinstance(x, str) else x["name"] for x in doc.labels),
    )
