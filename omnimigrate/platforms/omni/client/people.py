"""Omni's SCIM users and groups, email-only users, and model roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from omnimigrate.errors import Conflict
from omnimigrate.http.transport import Reply
from omnimigrate.platforms.omni import api_objects as m
from omnimigrate.platforms.omni.client.base import (
    EMAIL_ONLY_PAGE_SIZE,
    ClientBase,
    Ids,
    field_key,
)


class PeopleEndpoints(ClientBase):
    def list_users(self, *, filter: str | None = None) -> AsyncIterator[m.ScimUser]:
        """SCIM users (organization key)."""
        return self._scim("/api/scim/v2/Users", m.ScimUser, filter=filter)

    async def find_user(self, email: str) -> m.ScimUser | None:
        async for user in self.list_users(filter=f'userName eq "{email}"'):
            if user.user_name.lower() == email.lower():
                return user
        return None

    async def create_user(
        self, email: str, display_name: str, attributes: dict[str, Any] | None = None
    ) -> m.ScimUser:
        """SCIM create. An existing user (409) is looked up and returned."""
        body: dict[str, Any] = {"userName": email, "displayName": display_name}
        if attributes:
            body["urn:omni:params:1.0:UserAttribute"] = attributes

        async def recover() -> Reply | None:
            user = await self.find_user(email)
            return Reply(201, user.dump(), {}) if user else None

        try:
            return await self._write(
                "POST", "/api/scim/v2/Users", m.ScimUser, json=body, recover=recover
            )
        except Conflict:
            found = await self.find_user(email)
            if found is None:
                raise
            return found

    def list_groups(self, *, filter: str | None = None) -> AsyncIterator[m.ScimGroup]:
        return self._scim("/api/scim/v2/Groups", m.ScimGroup, filter=filter)

    async def find_group(self, name: str) -> m.ScimGroup | None:
        async for group in self.list_groups(filter=f'displayName eq "{name}"'):
            if group.display_name == name:
                return group
        return None

    async def create_group(self, name: str, member_ids: Ids = ()) -> m.ScimGroup:
        """SCIM create. An existing group (409) is looked up and returned."""
        body = {"displayName": name, "members": [{"value": v} for v in member_ids]}

        async def recover() -> Reply | None:
            group = await self.find_group(name)
            return Reply(201, group.dump(), {}) if group else None

        try:
            return await self._write(
                "POST", "/api/scim/v2/Groups", m.ScimGroup, json=body, recover=recover
            )
        except Conflict:
            found = await self.find_group(name)
            if found is None:
                raise
            return found

    def list_email_only_users(self) -> AsyncIterator[m.EmailOnlyUser]:
        return self._cursor(
            "/api/v1/users/email-only",
            m.EmailOnlyUser,
            key=field_key("email"),
            pageSize=EMAIL_ONLY_PAGE_SIZE,
        )

    async def upsert_email_only_users(self, emails: list[str]) -> list[m.EmailOnlyUpsert]:
        """Bulk upsert, 20 per call (the documented maximum)."""
        out: list[m.EmailOnlyUpsert] = []
        for i in range(0, len(emails), EMAIL_ONLY_PAGE_SIZE):
            chunk = emails[i : i + EMAIL_ONLY_PAGE_SIZE]
            reply = await self._call(
                "POST",
                "/api/v1/users/email-only/bulk",
                json={"users": [{"email": e} for e in chunk]},
                idempotent=True,
            )
            out += [m.EmailOnlyUpsert.model_validate(r) for r in reply.body.get("results", [])]
        return out

    async def user_model_roles(self, user_id: str, **filters: Any) -> m.ModelRoles:
        return await self._get(
            "/api/v1/users/{id}/model-roles", m.ModelRoles, path={"id": user_id}, params=filters
        )

    async def group_model_roles(self, group_id: str, **filters: Any) -> m.ModelRoles:
        return await self._get(
            "/api/v1/user-groups/{id}/model-roles",
            m.ModelRoles,
            path={"id": group_id},
            params=filters,
        )

    async def assign_user_model_role(
        self,
        user_id: str,
        role_name: str,
        *,
        model_id: str | None = None,
        connection_id: str | None = None,
    ) -> dict[str, Any]:
        return await self._assign_role(
            "/api/v1/users/{id}/model-roles", user_id, role_name, model_id, connection_id
        )

    async def assign_group_model_role(
        self,
        group_id: str,
        role_name: str,
        *,
        model_id: str | None = None,
        connection_id: str | None = None,
    ) -> dict[str, Any]:
        return await self._assign_role(
            "/api/v1/user-groups/{id}/model-roles", group_id, role_name, model_id, connection_id
        )

    async def _assign_role(
        self, route: str, principal: str, role: str, model_id: str | None, connection_id: str | None
    ) -> dict[str, Any]:
        body = {"roleName": role, "modelId": model_id, "connectionId": connection_id}
        reply = await self._call(
            "POST",
            route,
            path={"id": principal},
            json={k: v for k, v in body.items() if v},
            idempotent=True,
        )
        return reply.body
