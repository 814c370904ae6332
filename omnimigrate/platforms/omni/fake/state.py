"""In-memory state of one fake Omni organization, loadable from and dumpable to JSON.

Ids follow Omni's kinds (DIGEST 1.4): users are membership UUIDs, groups 8-character
miniUuids, documents have a UUID plus a short `identifier`, everything else a UUID.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

Role = Literal["NO_ACCESS", "VIEWER", "EXPLORER", "EDITOR", "MANAGER"]


def new_uuid() -> str:
    return str(uuid.uuid4())


def mini_uuid() -> str:
    return secrets.token_hex(4)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def slug(name: str) -> str:
    """Omni-like path segment: lower case, runs of non-word characters become '-'."""
    return re.sub(r"[^\w]+", "-", name.lower(), flags=re.UNICODE).strip("-") or "folder"


class Token(BaseModel):
    token: str
    kind: Literal["org", "personal"]
    user_id: str | None = None  # the PAT's owner; org keys act as nobody in particular


class User(BaseModel):
    id: str = Field(default_factory=new_uuid)
    email: str
    display_name: str
    active: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict)
    embed: bool = False


class Group(BaseModel):
    id: str = Field(default_factory=mini_uuid)
    name: str
    member_ids: list[str] = Field(default_factory=list)


class EmailOnlyUser(BaseModel):
    user_id: str = Field(default_factory=new_uuid)
    email: str
    attributes: dict[str, Any] = Field(default_factory=dict)


class Connection(BaseModel):
    id: str = Field(default_factory=new_uuid)
    name: str
    dialect: str = "postgres"
    database: str | None = "analytics"
    default_schema: str | None = "public"
    base_role: str | None = "VIEWER"


class Model(BaseModel):
    id: str = Field(default_factory=new_uuid)
    name: str | None
    kind: str = "SHARED"
    connection_id: str | None = None
    base_model_id: str | None = None
    git_follower: bool = False
    files: dict[str, str] = Field(default_factory=dict)
    version: int = 1
    created_at: str = ""
    updated_at: str = ""
    deleted_at: str | None = None


class Label(BaseModel):
    name: str
    verified: bool = False
    homepage: bool = False
    color: str | None = None
    description: str | None = None


class Permit(BaseModel):
    user_id: str | None = None
    group_id: str | None = None
    role: Role
    access_boost: bool = False

    @property
    def principal(self) -> tuple[str, str]:
        return ("user", self.user_id) if self.user_id else ("userGroup", self.group_id or "")


class Folder(BaseModel):
    id: str = Field(default_factory=new_uuid)
    name: str
    path: str
    scope: Literal["organization", "restricted"] = "organization"
    owner_id: str
    parent_id: str | None = None
    labels: list[str] = Field(default_factory=list)
    permits: list[Permit] = Field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""


class Document(BaseModel):
    id: str = Field(default_factory=new_uuid)
    identifier: str = Field(default_factory=mini_uuid)
    name: str
    description: str | None = None
    folder_id: str | None = None
    owner_id: str
    scope: Literal["organization", "restricted"] = "organization"
    model_id: str
    connection_id: str
    has_dashboard: bool = True
    deleted: bool = False
    labels: list[str] = Field(default_factory=list)
    permits: list[Permit] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    export: dict[str, Any] = Field(default_factory=dict)
    favorited_by: list[str] = Field(default_factory=list)  # user ids
    created_at: str = ""
    updated_at: str = ""


class Schedule(BaseModel):
    id: str = Field(default_factory=new_uuid)
    identifier: str
    name: str
    schedule: str
    timezone: str
    format: str
    destination_type: str
    owner_id: str
    disabled_at: str | None = None
    emails: list[str] = Field(default_factory=list)
    user_ids: list[str] = Field(default_factory=list)
    group_ids: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)  # the rest of the create body
    created_at: str = ""
    updated_at: str = ""


class ModelRole(BaseModel):
    principal_type: Literal["user", "group"]
    principal_id: str
    model_id: str | None = None
    connection_id: str | None = None
    role_name: str


class UserAttribute(BaseModel):
    id: str = Field(default_factory=new_uuid)
    name: str
    label: str
    type: Literal["String", "Number"] = "String"
    system: bool = False
    multiple_values: bool = False
    default_value: str | float | list[str | float] | None = None
    description: str | None = None


class OrgState(BaseModel):
    """Everything a fake instance knows. Collections are keyed by their API id."""

    org_id: str = Field(default_factory=new_uuid)
    tokens: dict[str, Token] = Field(default_factory=dict)
    users: dict[str, User] = Field(default_factory=dict)
    groups: dict[str, Group] = Field(default_factory=dict)
    email_only: dict[str, EmailOnlyUser] = Field(default_factory=dict)
    connections: dict[str, Connection] = Field(default_factory=dict)
    models: dict[str, Model] = Field(default_factory=dict)
    labels: dict[str, Label] = Field(default_factory=dict)  # key: lower-cased name
    folders: dict[str, Folder] = Field(default_factory=dict)
    documents: dict[str, Document] = Field(default_factory=dict)  # key: document UUID
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    model_roles: list[ModelRole] = Field(default_factory=list)
    user_attributes: dict[str, UserAttribute] = Field(default_factory=dict)
    jobs: dict[str, str] = Field(default_factory=dict)  # job id -> model id

    def dump_json(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1))

    @classmethod
    def load_json(cls, path: Path) -> OrgState:
        return cls.model_validate(json.loads(path.read_text()))

    # -- lookups shared by handlers and tests

    def document(self, ref: str) -> Document | None:
        """By identifier or UUID, as the API's path parameters accept either."""
        if ref in self.documents:
            return self.documents[ref]
        return next((d for d in self.documents.values() if d.identifier == ref), None)

    def folder_by_path(self, path: str) -> Folder | None:
        want = path.strip("/")
        return next((f for f in self.folders.values() if f.path == want), None)

    def user_by_email(self, email: str) -> User | None:
        low = email.lower()
        return next((u for u in self.users.values() if u.email.lower() == low), None)

    def principal_name(self, kind: str, pid: str) -> tuple[str, str | None]:
        if kind == "user":
            user = self.users.get(pid)
            return (user.display_name, user.email) if user else ("unknown", None)
        group = self.groups.get(pid)
        return (group.name if group else "unknown", None)
