"""The fake's documents, their permits, labels, export and import: Omni's behaviour (DIGEST.md) for them, and their routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.base import (
    ApiBase,
    ApiError,
    Route,
    keyset_page,
    ok,
)


class DocumentsApi(ApiBase):
    def _visible(self, doc: st.Document, creator: str | None, user: str | None) -> bool:
        """`userId`: what that user sees; `creatorId`: what that user owns."""
        if doc.scope == "organization" or doc.owner_id == creator:
            return True
        return user is not None and self.can_view(doc, user)

    async def list_documents(self, request: web.Request) -> web.Response:
        q = request.query
        include = set(filter(None, q.get("include", "").split(",")))
        labels = {x.lower() for x in q.get("labels", "").split(",") if x}
        creator, user = q.get("creatorId"), q.get("userId")
        if "onlyFavorites" in include and not user:
            raise ApiError(400, "onlyFavorites requires userId")
        docs = [
            d
            for d in self.state.documents.values()
            if (not d.deleted or "includeDeleted" in include)
            and self._visible(d, creator, user)
            and ("onlyFavorites" not in include or self.favorited(d, user or ""))
            and (not creator or d.owner_id == creator)
            and (not q.get("folderId") or d.folder_id == q["folderId"])
            and (not labels or labels <= {x.lower() for x in d.labels})
        ]
        sort = q.get("sortField", "name")
        if sort not in ("name", "updatedAt"):
            sort = "name"
        key = (
            (lambda d: [d.updated_at, d.identifier])
            if sort == "updatedAt"
            else (lambda d: [d.name, d.identifier])
        )
        page, info = keyset_page(
            docs,
            key,
            q,
            default_size=50,
            max_size=self.max_page_size,
            descending=q.get("sortDirection") == "desc",
        )
        records = [self.document_json(d) for d in page]
        if "labels" not in include:
            for rec in records:
                rec.pop("labels")
        return ok({"pageInfo": info, "records": records})

    async def list_content(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("folderId") and q.get("path"):
            raise ApiError(400, "folderId and path cannot be used together")
        scope = q.get("scope", "organization")
        if scope == "restricted" and not q.get("creatorId"):
            raise ApiError(400, "creatorId required when scope is restricted")
        parent: str | None = None
        if q.get("folderId"):
            parent = self._folder(q["folderId"]).id
        elif q.get("path") not in (None, "", "/"):
            folder = self.state.folder_by_path(q["path"])
            if folder is None:
                raise ApiError(404, f"Folder with path {q['path']} not found")
            parent = folder.id
        creator = q.get("creatorId")
        items: list[tuple[str, Any]] = [
            ("folder", f)
            for f in self.state.folders.values()
            if f.parent_id == parent and f.scope == scope and (not creator or f.owner_id == creator)
        ]
        items += [
            ("document", d)
            for d in self.state.documents.values()
            if d.folder_id == parent
            and not d.deleted
            and d.scope == scope
            and (not creator or d.owner_id == creator)
        ]
        page, info = keyset_page(
            items, lambda i: [i[0], i[1].name, i[1].id], q, default_size=20, max_size=100
        )
        records = [
            self.content_folder_json(obj) if kind == "folder" else self.document_json(obj)
            for kind, obj in page
        ]
        return ok({"pageInfo": info, "records": records})

    async def get_document(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        if not doc.has_dashboard:
            raise ApiError(400, "Analysis documents are not supported")
        dashboard = doc.export.get("dashboard") or {}
        return ok(
            {
                "name": doc.name,
                "description": doc.description,
                "modelId": doc.model_id,
                "facetFilters": False,
                "filterConfig": dashboard.get("filterConfig", {}),
                "filterOrder": list(dashboard.get("filterOrder", [])),
                "queryPresentations": [],
                "refreshInterval": None,
            }
        )

    async def update_document(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        body = await request.json()
        new_id = body.get("identifier")
        if new_id and new_id != doc.identifier:
            if self.state.document(new_id):
                raise ApiError(400, f"Identifier {new_id} is already in use")
            doc.identifier = new_id
        if "name" in body:
            doc.name = body["name"]
        if "description" in body:
            doc.description = body["description"]
        doc.updated_at = self.now()
        return ok({"identifier": doc.identifier, "name": doc.name, "description": doc.description})

    async def delete_document(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        doc.deleted = True
        doc.updated_at = self.now()
        return ok({"success": True})

    async def document_queries(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        queries = [
            {
                "id": q["id"],
                "name": q["name"],
                "queryIdentifierMapKey": q["queryIdentifierMapKey"],
                "url": f"{self.base_url}/w/{doc.identifier}?q={q['id']}",
            }
            for q in (doc.export.get("dashboard") or {}).get("queries", [])
        ]
        return ok({"queries": queries})

    async def dashboard_filters(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        dashboard = doc.export.get("dashboard") or {}
        return ok(
            {
                "identifier": doc.identifier,
                "filters": dashboard.get("filterConfig", {}),
                "controls": {},
                "filterOrder": list(dashboard.get("filterOrder", [])),
            }
        )

    async def move_document(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        body = await request.json()
        path = body.get("folderPath")
        folder = None
        if path:
            folder = self.state.folder_by_path(path)
            if folder is None:
                raise ApiError(404, f"Folder with path {path} does not exist")
        scope = body.get("scope") or (folder.scope if folder else doc.scope)
        if folder and scope != folder.scope:
            raise ApiError(400, "Document scope must match the folder's scope")
        doc.folder_id = folder.id if folder else None
        doc.scope = scope
        doc.updated_at = self.now()
        return ok({"success": True})

    async def transfer_ownership(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        new_owner = self._user((await request.json())["userId"]).id
        if new_owner == doc.owner_id:
            return ok({"success": True})
        if not any(p.user_id == new_owner for p in doc.permits):
            raise ApiError(400, "New owner must have explicit document permission")
        previous = doc.owner_id
        doc.permits = [p for p in doc.permits if p.user_id not in (new_owner, previous)]
        doc.permits.append(st.Permit(user_id=previous, role="MANAGER"))  # Omni's doing (G10)
        doc.owner_id = new_owner
        doc.updated_at = self.now()
        return ok({"success": True})

    # --- permissions

    async def document_permits(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        body = await request.json()
        if request.method == "PUT":
            doc.settings.update(body)
        elif request.method == "DELETE":
            doc.permits = self._revoke(doc.permits, body)
        else:
            doc.permits = self._grant(doc.permits, body, update=request.method == "PATCH")
        return ok({"success": True})

    async def access_list(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        q = request.query
        entries: list[dict[str, Any]] = []
        owner = self.state.users.get(doc.owner_id)
        if owner:
            entries.append(
                self._principal("user", owner.id, "MANAGER", False, "direct", is_owner=True)
            )
        for p in doc.permits:
            entries.append(self._principal(*p.principal, p.role, p.access_boost, "direct"))
        folder = self.state.folders.get(doc.folder_id or "")
        while folder is not None:
            for p in folder.permits:
                entries.append(
                    self._principal(
                        *p.principal,
                        p.role,
                        p.access_boost,
                        "folder",
                        folder={"id": folder.id, "path": folder.path},
                    )
                )
            folder = self.state.folders.get(folder.parent_id or "")
        entries = [
            e
            for e in entries
            if (not q.get("accessSource") or e["accessSource"] == q["accessSource"])
            and (not q.get("type") or e["type"] == q["type"])
        ]
        indexed = list(enumerate(entries))
        page, info = keyset_page(indexed, lambda i: [i[0]], q, default_size=20, max_size=100)
        return ok({"pageInfo": info, "principals": [e for _, e in page]})

    def _principal(
        self,
        kind: str,
        pid: str,
        role: str,
        boost: bool,
        source: str,
        *,
        is_owner: bool = False,
        folder: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        name, email = self.state.principal_name(kind, pid)
        entry: dict[str, Any] = {
            "id": pid,
            "type": kind,
            "name": name,
            "role": role,
            "accessBoost": boost,
            "accessSource": source,
            "isOwner": is_owner,
        }
        if email:
            entry["email"] = email
        if folder:
            entry["folderInfo"] = folder
        return entry

    # --- labels on documents

    def _check_label_rights(self, request: web.Request, label: st.Label) -> None:
        if (label.verified or label.homepage) and not self._is_admin(request):
            raise ApiError(403, "Only admins can apply verified or homepage labels")

    async def bulk_labels(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        body = await request.json()
        add, remove = body.get("add", []), body.get("remove", [])
        if not add and not remove:
            raise ApiError(400, "At least one label must be provided in add or remove")
        if {a.lower() for a in add} & {r.lower() for r in remove}:
            raise ApiError(400, "A label cannot be both added and removed")
        for name in [*add, *remove]:
            self._check_label_rights(request, self._label(name))
        current = {x.lower(): x for x in doc.labels}
        for name in add:
            current[name.lower()] = self._label(name).name
        for name in remove:
            current.pop(name.lower(), None)
        doc.labels = list(current.values())
        return ok({"labels": sorted(doc.labels, key=str.lower)})

    async def document_label(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        label = self._label(request.match_info["labelName"])
        self._check_label_rights(request, label)
        has = label.name.lower() in {x.lower() for x in doc.labels}
        if request.method == "PUT":
            if not has:
                doc.labels.append(label.name)
        else:
            if not has:
                raise ApiError(404, f"Label {label.name} is not applied to this document")
            doc.labels = [x for x in doc.labels if x.lower() != label.name.lower()]
        return web.Response(status=204)

    # --- export, import, update-model

    async def export_document(self, request: web.Request) -> web.Response:
        self._require_org_key(request)
        doc = self._doc(request.match_info["identifier"])
        refusal = doc.settings.get("exportRefusal")
        if refusal:
            raise ApiError(int(refusal["status"]), refusal["detail"])
        export = dict(doc.export)
        body: dict[str, Any] = {
            "document": {"name": doc.name},
            "exportVersion": "0.1",
            "dashboard": export.get("dashboard"),
            "workbookModel": export.get("workbookModel"),
        }
        if self.export_flavour == "seed":
            body["fileUploads"] = [
                {"fileUploadId": k, **v} for k, v in (export.get("fileUploads") or {}).items()
            ]
        else:
            body["queryModels"] = export.get("queryModels", {})
            body["fileUploads"] = export.get("fileUploads", {})
        return ok(body)

    async def import_document(self, request: web.Request) -> web.Response:
        self._require_org_key(request)
        body = await request.json()
        model = self._model(body["baseModelId"])
        if model.kind not in ("SHARED", "SHARED_EXTENSION"):
            raise ApiError(400, "Invalid export data: baseModelId must be a shared model")
        folder = None
        if body.get("folderPath"):
            folder = self.state.folder_by_path(body["folderPath"])
            if folder is None:
                raise ApiError(404, f"Folder with path {body['folderPath']} does not exist")
        identifier = body.get("identifier") or st.mini_uuid()
        existing = self.state.document(identifier)
        if existing is not None and not existing.deleted:
            raise ApiError(400, f"Identifier {identifier} is already in use")
        if existing is not None and self.trash_keeps_identifier:
            raise ApiError(400, f'Document identifier "{identifier}" is already in use')
        if existing is not None:  # this fake's trash gives the identifier up
            del self.state.documents[existing.id]
        stamp = self.now()
        doc = st.Document(
            identifier=identifier,
            name=body["document"]["name"],
            folder_id=folder.id if folder else None,
            owner_id=self.token(request).user_id or "",
            # Neither spec says what scope a document imported outside any folder gets:
            # the fake's guess is the importer's own (restricted); restore must set it.
            scope=folder.scope if folder else "restricted",
            model_id=model.id,
            connection_id=model.connection_id or "",
            has_dashboard=body.get("dashboard") is not None,
            export=self._imported(body),
            created_at=stamp,
            updated_at=stamp,
        )
        self.state.documents[doc.id] = doc
        return ok({"documentId": doc.id, "identifier": doc.identifier}, status=201)

    def _imported(self, body: dict[str, Any]) -> dict[str, Any]:
        """What the document keeps of an import body; with `renew_query_keys`, its queries
        get new keys (random ids, whatever form the exported keys had), everywhere the
        export names them: a schedule must be given the new ones."""
        export: dict[str, Any] = {
            k: body.get(k) for k in ("dashboard", "workbookModel", "queryModels", "fileUploads")
        }
        queries = (export["dashboard"] or {}).get("queries") or []
        if not self.renew_query_keys or not queries:
            return export
        new = {q["queryIdentifierMapKey"]: f"q{st.mini_uuid()}" for q in queries}
        for q in queries:
            q["queryIdentifierMapKey"] = new[q["queryIdentifierMapKey"]]
        for tile in export["dashboard"].get("layout") or []:
            tile["i"] = new.get(tile.get("i"), tile.get("i"))
        if isinstance(export["queryModels"], dict):
            export["queryModels"] = {new.get(k, k): v for k, v in export["queryModels"].items()}
        return export

    async def update_model(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        new = self.state.models.get((await request.json())["newModelId"])
        if new is None or new.deleted_at:
            raise ApiError(404, "Model does not exist")
        old_conn = self.state.connections.get(doc.connection_id)
        new_conn = self.state.connections.get(new.connection_id or "")
        if old_conn and new_conn and old_conn.dialect != new_conn.dialect:
            raise ApiError(400, "Models must have the same dialect")
        doc.model_id, doc.connection_id = new.id, new.connection_id or doc.connection_id
        doc.updated_at = self.now()
        return ok({"success": True, "message": "Document updated successfully"})

    def document_routes(self) -> list[Route]:
        doc = "/api/v1/documents/{identifier}"
        return [
            Route("GET", "/api/v1/content", self.list_content),
            Route("GET", "/api/v1/documents", self.list_documents),
            Route("GET", doc, self.get_document),
            Route("PATCH", doc, self.update_document),
            Route("DELETE", doc, self.delete_document),
            Route("GET", doc + "/queries", self.document_queries),
            Route("GET", "/api/v1/dashboards/{identifier}/filters", self.dashboard_filters),
            Route("GET", doc + "/access-list", self.access_list),
            *[
                Route(m, doc + "/permissions", self.document_permits)
                for m in ("PUT", "POST", "PATCH", "DELETE")
            ],
            Route("PATCH", doc + "/labels", self.bulk_labels),
            Route("PUT", doc + "/labels/{labelName}", self.document_label),
            Route("DELETE", doc + "/labels/{labelName}", self.document_label),
            Route("PUT", doc + "/transfer-ownership", self.transfer_ownership),
            Route("GET", "/api/unstable/documents/{identifier}/export", self.export_document),
            Route("POST", "/api/unstable/documents/import", self.import_document),
            Route("POST", doc + "/move", self.move_document, "current"),
            Route("PUT", doc + "/move", self.move_document, "seed"),
            Route(
                "PUT",
                "/api/unstable/documents/{identifier}/update-model",
                self.update_model,
                "seed",
            ),
        ]
