"""Omni's documents: listing, reading and changing them, permits, labels, favorites, export and import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from omnimigrate.errors import ApiStatusError, NotFound
from omnimigrate.http.transport import Reply
from omnimigrate.platforms.omni import api_objects as m
from omnimigrate.platforms.omni.client.base import (
    DOC,
    NO_DEDUPE,
    ClientBase,
    Ids,
    field_key,
    permit_body,
    principals,
)
from omnimigrate.platforms.omni.queries import DocumentQueries


class DocumentsEndpoints(ClientBase):
    def list_documents(
        self, *, include_deleted: bool = False, **filters: Any
    ) -> AsyncIterator[m.Document]:
        """GET /documents (filters: folderId, creatorId, userId, labels)."""
        include = "labels,includeDeleted" if include_deleted else "labels"
        return self._cursor(
            "/api/v1/documents", m.Document, key=field_key("identifier"), include=include, **filters
        )

    def list_favorites(self, user_id: str) -> AsyncIterator[m.Document]:
        """GET /documents?userId&include=onlyFavorites: the documents a user has favorited."""
        return self._cursor(
            "/api/v1/documents",
            m.Document,
            key=field_key("identifier"),
            include="onlyFavorites",
            userId=user_id,
        )

    async def add_favorite(self, identifier: str, user_id: str) -> None:
        """PUT /documents/{identifier}/favorite?userId= (204 whether new or not)."""
        await self._call(
            "PUT", DOC + "/favorite", path={"identifier": identifier}, params={"userId": user_id}
        )

    async def get_document(self, identifier: str) -> m.DocumentConfig:
        return await self._get(DOC, m.DocumentConfig, path={"identifier": identifier})

    async def document_queries(self, identifier: str) -> DocumentQueries:
        """GET /documents/{identifier}/queries: each query's name and key."""
        reply = await self._call("GET", DOC + "/queries", path={"identifier": identifier})
        return DocumentQueries.read(reply.body)

    async def document_exists(self, identifier: str) -> bool:
        """GET /documents/{id}: 404 absent; 200, or 400 for non-dashboard documents, present
        (how an import that may have been applied is looked up before it is resent)."""
        try:
            await self.get_document(identifier)
        except NotFound:
            return False
        except ApiStatusError as err:
            if err.status != 400:
                raise
        return True

    async def update_document(
        self,
        identifier: str,
        *,
        name: str | None = None,
        description: str | None = None,
        new_identifier: str | None = None,
        clear_existing_draft: bool = False,
    ) -> dict[str, Any]:
        body = {
            k: v
            for k, v in {
                "name": name,
                "description": description,
                "identifier": new_identifier,
                "clearExistingDraft": clear_existing_draft or None,
            }.items()
            if v is not None
        }
        reply = await self._call("PATCH", DOC, path={"identifier": identifier}, json=body)
        return reply.body

    async def delete_document(self, identifier: str) -> m.Success:
        return await self._write("DELETE", DOC, m.Success, path={"identifier": identifier})

    async def move_document(
        self, identifier: str, folder_path: str | None, scope: str | None = None
    ) -> m.Success:
        body = {"folderPath": folder_path, **({"scope": scope} if scope else {})}
        path = {"identifier": identifier}
        return await self._with_seed_fallback(
            self._move_route,
            lambda: self._write(
                "POST", DOC + "/move", m.Success, path=path, json=body, idempotent=True
            ),
            lambda: self._write("PUT", DOC + "/move", m.Success, path=path, json=body),
        )

    async def transfer_document_ownership(self, identifier: str, user_id: str) -> m.Success:
        return await self._write(
            "PUT",
            DOC + "/transfer-ownership",
            m.Success,
            path={"identifier": identifier},
            json={"userId": user_id},
        )

    # --- document permissions

    def access_list(
        self, identifier: str, *, access_source: str | None = None, type: str | None = None
    ) -> AsyncIterator[m.AccessPrincipal]:
        """Who can reach a document. Restore replays only `accessSource=direct` entries."""
        return self._cursor(
            DOC + "/access-list",
            m.AccessPrincipal,
            items="principals",
            key=NO_DEDUPE,
            path_params={"identifier": identifier},
            accessSource=access_source,
            type=type,
        )

    async def add_document_permits(
        self,
        identifier: str,
        role: str,
        *,
        user_ids: Ids = (),
        group_ids: Ids = (),
        access_boost: bool = False,
    ) -> m.Success:
        """Grant `role`; granting a role someone already has changes nothing."""
        body = permit_body(role, user_ids, group_ids, access_boost)
        return await self._permits("POST", DOC, {"identifier": identifier}, body)

    async def update_document_permits(
        self,
        identifier: str,
        role: str,
        *,
        user_ids: Ids = (),
        group_ids: Ids = (),
        access_boost: bool = False,
    ) -> m.Success:
        """Set the role of permits the document has (PATCH: the spec's update)."""
        body = permit_body(role, user_ids, group_ids, access_boost)
        return await self._permits("PATCH", DOC, {"identifier": identifier}, body)

    async def revoke_document_permits(
        self, identifier: str, *, user_ids: Ids = (), group_ids: Ids = ()
    ) -> m.Success:
        body = principals(user_ids, group_ids)
        return await self._permits("DELETE", DOC, {"identifier": identifier}, body)

    # --- document labels

    async def update_document_labels(
        self,
        identifier: str,
        *,
        add: Ids = (),
        remove: Ids = (),
    ) -> list[str]:
        body = {k: list(v) for k, v in {"add": add, "remove": remove}.items() if v}
        reply = await self._call(
            "PATCH", DOC + "/labels", path={"identifier": identifier}, json=body
        )
        return list(reply.body.get("labels", []))

    # --- export / import / update-model

    async def export_document(self, identifier: str) -> m.DocumentExport:
        """Needs an organization API key."""
        return await self._get(
            "/api/unstable/documents/{identifier}/export",
            m.DocumentExport,
            path={"identifier": identifier},
        )

    async def import_document(self, body: dict[str, Any]) -> m.ImportResult:
        """POST /unstable/documents/import (organization key). Never duplicates on retry:
        after an ambiguous failure the `identifier` is looked up before resending."""
        identifier = body.get("identifier")

        async def recover() -> Reply | None:
            if identifier and await self.document_exists(identifier):
                return Reply(201, {"identifier": identifier, "recovered": True}, {})
            return None

        reply = await self._call(
            "POST",
            "/api/unstable/documents/import",
            json=body,
            recover=recover if identifier else None,
        )
        return m.ImportResult.model_validate(reply.body)

    async def update_document_model(self, identifier: str, new_model_id: str) -> m.Success:
        """Older spec only (beta): point a document at another model of the same dialect."""
        return await self._write(
            "PUT",
            "/api/unstable/documents/{identifier}/update-model",
            m.Success,
            path={"identifier": identifier},
            json={"newModelId": new_model_id},
        )
