"""Typed views of Omni API objects.

Every model keeps fields it does not declare (`extra="allow"`), so a backup stores what
Omni sent even when Omni adds fields, and `.dump()` gives back the API's own JSON keys.
Field names are snake_case; the API's camelCase names are aliases.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from omnimigrate.platforms.omni.queries import key_map


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)

    def dump(self) -> dict[str, Any]:
        """The object as Omni's JSON (API field names, unknown fields included)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class PageInfo(ApiModel):
    has_next_page: bool
    next_cursor: str | None = None
    page_size: float | None = None
    total_records: float | None = None


class Owner(ApiModel):
    id: str | None = None
    name: str | None = None


class FolderRef(ApiModel):
    id: str
    name: str
    path: str
    scope: str | None = None


class Document(ApiModel):
    """A record of GET /documents or a document record of GET /content."""

    identifier: str
    name: str
    type: str = "document"
    scope: str | None = None
    owner: Owner | None = None
    folder: FolderRef | None = None
    connection_id: str | None = None
    has_dashboard: bool = False
    deleted: bool = False
    description: str | None = None
    # JSON spec: label names; the older document API docs: {name, verified} objects.
    labels: list[str | dict[str, Any]] = Field(default_factory=list)
    updated_at: str | None = None
    url: str | None = None


class Folder(ApiModel):
    """A record of GET /folders (scope only from /content or the older spec)."""

    id: str
    name: str
    path: str
    owner_id: str | None = None
    owner: Owner | None = None
    scope: str | None = None
    labels: list[str] = Field(default_factory=list)
    url: str | None = None

    @property
    def owner_ref(self) -> str | None:
        """The owner's membership id: `ownerId` (official) or `owner.id` (older spec)."""
        return self.owner_id or (self.owner.id if self.owner else None)


class CreatedFolder(ApiModel):
    id: str
    name: str
    path: str
    owner_id: str | None = None
    scope: str | None = None


class Permit(ApiModel):
    """A folder permit: one of user_id / user_group_id, a role and a boost flag."""

    user_id: str | None = None
    user_group_id: str | None = None
    role: str
    access_boost: bool = False


class AccessPrincipal(ApiModel):
    """An entry of a document's access list (the JSON spec leaves it untyped)."""

    id: str
    type: str
    name: str | None = None
    email: str | None = None
    role: str | None = None
    access_boost: bool = False
    access_source: str | None = None
    is_owner: bool = False


class Label(ApiModel):
    name: str
    verified: bool = False
    homepage: bool = False
    color: str | None = None
    description: str | None = None
    usage_count: float | None = Field(default=None, alias="usage_count")


class Model(ApiModel):
    id: str
    name: str | None = None
    model_kind: str | None = None
    connection_id: str | None = None
    base_model_id: str | None = None
    deleted_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ModelYaml(ApiModel):
    files: dict[str, str]
    version: float | None = None
    checksums: dict[str, str] | None = None
    view_names: dict[str, Any] | None = None


class GitConfig(ApiModel):
    git_follower: bool = False
    base_branch: str | None = None
    require_pull_request: str | None = None


class Connection(ApiModel):
    id: str
    name: str
    dialect: str
    database: str | None = None
    default_schema: str | None = None
    base_role: str | None = None
    deleted_at: str | None = None


class ScheduleSummary(ApiModel):
    """A record of GET /schedules."""

    id: str
    name: str
    identifier: str
    schedule: str
    timezone: str
    format: str | None = None
    destination_type: str | None = None
    disabled_at: str | None = None
    owner_id: str | None = None
    recipient_count: float | None = None
    alert: dict[str, Any] | str | None = None  # official: an object; older spec: a string


class ScheduleDestination(ApiModel):
    id: str | None = None
    format: str | None = None
    metadata: Any = None
    recipients: list[dict[str, Any]] = Field(default_factory=list)
    user_group_recipients: list[dict[str, Any]] = Field(default_factory=list)


class Schedule(ApiModel):
    """GET /schedules/{id}: the full definition."""

    id: str
    name: str
    schedule: str
    timezone: str
    entity_id: str | None = None
    owner_id: str | None = None
    disabled_at: str | None = None
    filter_config: Any = None
    metadata: Any = None
    condition_type: str | None = None
    condition_query_map_key: str | None = None
    fan_out: bool = False
    kill_jobs_on_failure: bool = False
    destinations: list[ScheduleDestination] = Field(default_factory=list)


class Recipient(ApiModel):
    id: str | None = None
    email: str | None = None
    name: str | None = None
    email_only: bool | None = None


class GroupRecipient(ApiModel):
    id: str
    name: str | None = None


class ScheduleRecipients(ApiModel):
    type: str
    recipients: list[Recipient] = Field(default_factory=list)
    user_group_recipients: list[GroupRecipient] = Field(default_factory=list)


class ScheduleCreated(ApiModel):
    id: str | None = None
    message: str | None = None


class ScimUser(ApiModel):
    id: str
    user_name: str
    display_name: str | None = None
    active: bool = True
    groups: list[dict[str, Any]] | None = None


class ScimMember(ApiModel):
    value: str
    display: str | None = None


class ScimGroup(ApiModel):
    id: str
    display_name: str
    members: list[ScimMember] = Field(default_factory=list)


class EmailOnlyUser(ApiModel):
    email: str
    user_id: str = Field(alias="user_id")
    user_attributes: dict[str, Any] = Field(default_factory=dict, alias="user_attributes")


class EmailOnlyUpsert(ApiModel):
    email: str
    user_id: str


class RoleAssignment(ApiModel):
    model_id: str | None = None
    connection_id: str | None = None
    role_name: str
    base_role: str | None = None
    priority: float | None = None
    resolved: bool | None = None
    from_: dict[str, Any] | None = Field(default=None, alias="from")


class ModelRoles(ApiModel):
    membership_id: str | None = None
    user_group_id: str | None = None
    results: list[RoleAssignment] = Field(default_factory=list)


def workbook_base_model(workbook_model: Any) -> str | None:
    """The shared model an export's workbook is built on. The official spec leaves
    `workbookModel` open and the older one names `base_model_id`; a camelCase
    `baseModelId` is read too."""
    model = workbook_model if isinstance(workbook_model, dict) else {}
    value = model.get("base_model_id") or model.get("baseModelId")
    return value if isinstance(value, str) else None


class DocumentExport(ApiModel):
    """GET /unstable/documents/{id}/export, stored verbatim.

    The official spec's export has `queryModels` and an object `fileUploads`; the older
    spec's has an array `fileUploads` and no `queryModels` (DIGEST G1).
    """

    document: dict[str, Any]
    export_version: str
    dashboard: Any = None
    workbook_model: Any = None
    query_models: dict[str, Any] | None = None
    file_uploads: dict[str, Any] | list[Any] | None = None

    @property
    def base_model_id(self) -> str | None:
        return workbook_base_model(self.workbook_model)

    @property
    def flavour(self) -> Literal["official", "seed"]:
        return (
            "seed"
            if self.query_models is None or isinstance(self.file_uploads, list)
            else "official"
        )


class ImportResult(ApiModel):
    """Official: {documentId, identifier}; older spec: {dashboard{dashboardId, miniUuidMap}}."""

    document_id: str | None = None
    identifier: str | None = None
    dashboard: dict[str, Any] | None = None

    @property
    def key_map(self) -> dict[str, str]:
        """Old query key to new, where the answer serves one (older spec only)."""
        return key_map(self.dashboard)


class DocumentConfig(ApiModel):
    model_id: str
    name: str
    description: str | None = None


class UserAttribute(ApiModel):
    id: str
    name: str
    label: str | None = None
    type: str | None = None
    system: bool = False


class Success(ApiModel):
    success: bool = True
    message: str | None = None
