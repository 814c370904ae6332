"""The fake's folders and their permits: Omni's behaviour (DIGEST.md) for them, and their routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.base import (
    MAX_FOLDER_DEPTH,
    ApiBase,
    ApiError,
    Route,
    keyset_page,
    ok,
)


class FoldersApi(ApiBase):
    async def list_folders(self, request: web.Request) -> web.Response:
        q = request.query
        scope = q.get("scope")  # neither spec gives a default: without it, both scopes
        if scope == "restricted" and not q.get("ownerId"):
            raise ApiError(400, "ownerId is required when scope is restricted")
        labels = {x.lower() for x in q.get("labels", "").split(",") if x}
        folders = [
            f
            for f in self.state.folders.values()
            if (scope is None or f.scope == scope)
            and (not q.get("ownerId") or f.owner_id == q["ownerId"])
            and (not labels or labels <= {x.lower() for x in f.labels})
        ]
        if q.get("path"):
            folders = [f for f in folders if f.path == q["path"].strip("/")]
            if not folders:
                raise ApiError(404, f"Folder with path {q['path']} not found")
        page, info = keyset_page(
            folders, lambda f: [f.path, f.id], q, default_size=20, max_size=self.max_page_size
        )
        return ok({"pageInfo": info, "records": [self.folder_json(f) for f in page]})

    async def create_folder(self, request: web.Request) -> web.Response:
        body = await request.json()
        parent = self._folder(body["parentFolderId"]) if body.get("parentFolderId") else None
        # Neither spec gives the default scope of a top-level folder: the fake's guess is
        # the creator's own (restricted), so a client that omits `scope` is caught.
        scope = body.get("scope") or (parent.scope if parent else "restricted")
        if parent and scope != parent.scope:
            raise ApiError(400, "Child folder scope must match parent folder scope")
        if parent and parent.path.count("/") + 2 > MAX_FOLDER_DEPTH:
            raise ApiError(400, "Maximum folder nesting depth reached")
        owner = self._acting_owner(request, body.get("userId"))
        path = self._free_path((parent.path + "/" if parent else "") + st.slug(body["name"]))
        stamp = self.now()
        folder = st.Folder(
            name=body["name"],
            path=path,
            scope=scope,
            owner_id=owner,
            parent_id=parent.id if parent else None,
            created_at=stamp,
            updated_at=stamp,
        )
        self.state.folders[folder.id] = folder
        return ok(
            {
                "id": folder.id,
                "name": folder.name,
                "path": folder.path,
                "ownerId": owner,
                "scope": folder.scope,
            },
            status=201,
        )

    def _free_path(self, path: str) -> str:
        """`path`, or with the first numeric suffix free (`my-path-1`, as the official spec
        describes resolvePathConflict; creates are assumed to do the same)."""
        candidate, n = path, 0
        while self.state.folder_by_path(candidate):
            n += 1
            candidate = f"{path}-{n}"
        return candidate

    async def update_folder(self, request: web.Request) -> web.Response:
        folder = self._folder(request.match_info["folderId"])
        body = await request.json()
        if "name" in body:
            folder.name = body["name"]
        if "path" in body:
            head = folder.path.rpartition("/")[0]
            new_path = (head + "/" if head else "") + st.slug(body["path"])
            taken = self.state.folder_by_path(new_path)
            if taken and taken.id != folder.id:
                if not body.get("resolvePathConflict"):
                    raise ApiError(409, f"Path {new_path} is already taken")
                new_path = self._free_path(new_path)
            old = folder.path
            for f in self.state.folders.values():
                if f.path == old or f.path.startswith(old + "/"):
                    f.path = new_path + f.path[len(old) :]
        folder.updated_at = self.now()
        return ok({"id": folder.id, "name": folder.name, "path": folder.path})

    async def delete_folder(self, request: web.Request) -> web.Response:
        folder = self._folder(request.match_info["folderId"])
        children = [f for f in self.state.folders.values() if f.parent_id == folder.id]
        docs = [
            d for d in self.state.documents.values() if d.folder_id == folder.id and not d.deleted
        ]
        if (children or docs) and request.query.get("force") != "true":
            raise ApiError(400, "Folder is not empty")
        for doc in docs:
            doc.deleted = True
        del self.state.folders[folder.id]
        return ok({"success": True})

    async def folder_permits(self, request: web.Request) -> web.Response:
        folder = self._folder(request.match_info["folderId"])
        if request.method == "GET":
            user = request.query.get("userId")
            permits = [p for p in folder.permits if not user or p.user_id == user]
            out = []
            for p in permits:
                entry: dict[str, Any] = {"role": p.role, "accessBoost": p.access_boost}
                entry["userId" if p.user_id else "userGroupId"] = p.user_id or p.group_id
                out.append(entry)
            return ok({"permits": out})
        body = await request.json()
        if request.method == "DELETE":
            folder.permits = self._revoke(folder.permits, body)
        else:
            folder.permits = self._grant(folder.permits, body, update=request.method == "PATCH")
        return ok({"success": True})

    def folder_routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v1/folders", self.list_folders),
            Route("POST", "/api/v1/folders", self.create_folder),
            Route("PATCH", "/api/v1/folders/{folderId}", self.update_folder),
            Route("DELETE", "/api/v1/folders/{folderId}", self.delete_folder),
            *[
                Route(m, "/api/v1/folders/{folderId}/permissions", self.folder_permits)
                for m in ("GET", "POST", "PATCH", "DELETE")
            ],
        ]
