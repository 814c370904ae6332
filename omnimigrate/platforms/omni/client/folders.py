"""Omni's folders and their permits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from omnimigrate.http.transport import Reply
from omnimigrate.platforms.omni import api_objects as m
from omnimigrate.platforms.omni.client.base import (
    FOLDER,
    ClientBase,
    Ids,
    permit_body,
    principals,
)


class FoldersEndpoints(ClientBase):
    def list_folders(self, **filters: Any) -> AsyncIterator[m.Folder]:
        """GET /folders (filters: path, scope, ownerId, labels)."""
        return self._cursor("/api/v1/folders", m.Folder, include="labels", **filters)

    async def create_folder(
        self,
        name: str,
        *,
        parent_id: str | None = None,
        parent_path: str | None = None,
        scope: str | None = None,
        owner_id: str | None = None,
    ) -> m.CreatedFolder:
        """POST /folders. After an ambiguous failure, an existing child with this name under
        `parent_path` (or at the root) is taken as the result instead of creating another."""
        body = {
            k: v
            for k, v in {
                "name": name,
                "parentFolderId": parent_id,
                "scope": scope,
                "userId": owner_id,
            }.items()
            if v is not None
        }

        async def recover() -> Reply | None:
            parent = (parent_path or "").strip("/")
            async for folder in self.list_folders():
                head = folder.path.strip("/").rpartition("/")[0]
                if folder.name == name and head == parent:
                    return Reply(201, {**folder.dump(), "scope": scope}, {})
            return None

        reply = await self._call("POST", "/api/v1/folders", json=body, recover=recover)
        return m.CreatedFolder.model_validate(reply.body)

    async def update_folder(
        self, folder_id: str, *, name: str | None = None, path: str | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in {"name": name, "path": path}.items() if v is not None}
        reply = await self._call("PATCH", FOLDER, path={"folderId": folder_id}, json=body)
        return reply.body

    async def folder_permits(self, folder_id: str) -> list[m.Permit]:
        """All direct permits of a folder (JSON spec: omit userId; needs Manager)."""
        reply = await self._call("GET", FOLDER + "/permissions", path={"folderId": folder_id})
        return [m.Permit.model_validate(p) for p in reply.body.get("permits", [])]

    async def add_folder_permits(
        self,
        folder_id: str,
        role: str,
        *,
        user_ids: Ids = (),
        group_ids: Ids = (),
        access_boost: bool = False,
    ) -> m.Success:
        body = permit_body(role, user_ids, group_ids, access_boost)
        return await self._permits("POST", FOLDER, {"folderId": folder_id}, body)

    async def update_folder_permits(
        self,
        folder_id: str,
        role: str,
        *,
        user_ids: Ids = (),
        group_ids: Ids = (),
        access_boost: bool = False,
    ) -> m.Success:
        """Set the role of permits the folder has (PATCH: the spec's update)."""
        body = permit_body(role, user_ids, group_ids, access_boost)
        return await self._permits("PATCH", FOLDER, {"folderId": folder_id}, body)

    async def revoke_folder_permits(
        self, folder_id: str, *, user_ids: Ids = (), group_ids: Ids = ()
    ) -> m.Success:
        body = principals(user_ids, group_ids)
        return await self._permits("DELETE", FOLDER, {"folderId": folder_id}, body)
