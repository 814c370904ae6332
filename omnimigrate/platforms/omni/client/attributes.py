"""Omni's user-attribute definitions: `GET /api/v1/user-attributes`, the only route the spec
has for them (no create, update or delete), answering every definition at once, unpaged."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from omnimigrate.platforms.omni.client.base import ClientBase

AttributeValue = str | float | list[str | float] | None


class UserAttributeDefinition(BaseModel):
    """One definition, every field the spec requires (a missing one fails the read, named)."""

    model_config = ConfigDict(extra="ignore")

    id: str  # empty for a system attribute
    name: str  # what model SQL and embed URLs refer to: the natural key
    label: str
    type: Literal["String", "Number"]
    multiple_values: bool
    default_value: AttributeValue
    description: str | None
    system: bool


class UserAttributesList(BaseModel):
    records: list[UserAttributeDefinition]


class AttributesEndpoints(ClientBase):
    async def list_user_attributes(self) -> list[UserAttributeDefinition]:
        listed = await self._get("/api/v1/user-attributes", UserAttributesList)
        return listed.records
