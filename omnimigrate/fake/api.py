"""The fake's endpoint handlers: Omni's behaviour (DIGEST.md) over an `OrgState`.

Requests reach these handlers only after the conformance check, auth and the rate limit
(see server.py), so bodies already have the documented shape; what is checked here is what
Omni itself checks (existence, scope, conflicts), with its error texts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from omnimigrate.fake import state as st

T = TypeVar("T")
TOKEN_KEY = web.RequestKey("token", st.Token)
MAX_FOLDER_DEPTH = 7
SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": detail, "status": status}, status=status, headers=headers)


def _ok(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise ApiError(400, "Invalid cursor") from exc


def keyset_page(
    items: Iterable[T],
    key: Callable[[T], list[Any]],
    query: Any,
    *,
    default_size: int,
    max_size: int,
    descending: bool = False,
) -> tuple[list[T], dict[str, Any]]:
    """One page of a keyset-paginated list, and its pageInfo."""
    size = min(int(float(query.get("pageSize", default_size))), max_size)
    ordered = sorted(items, key=key, reverse=descending)
    total = len(ordered)
    if cursor := query.get("cursor"):
        after = _decode_cursor(cursor)
        ordered = [i for i in ordered if (key(i) < after if descending else key(i) > after)]
    page = ordered[:size]
    more = len(ordered) > size
    info = {
        "hasNextPage": more,
        "nextCursor": _encode_cursor(key(page[-1])) if more and page else None,
        "pageSize": size,
        "totalRecords": total,
    }
    return page, info


SCHEDULE_CORE = frozenset(
    {"identifier", "name", "schedule", "timezone", "format", "destinationType", "recipients",
     "testNow"}
)  # fmt: skip
FORMAT_OPTIONS = (
    "hideTitle",
    "paperFormat",
    "paperOrientation",
    "singleColumnLayout",
    "expandTablesToShowAllRows",
    "queryIdentifierMapKey",
    "overrideRowLimit",
    "maxRowLimit",
    "enableFormatting",
    "hideHiddenFields",
    "showContentLink",
    "showFilters",
)


class Api:
    """Handlers bound to one organization's state."""

    def __init__(
        self,
        state: st.OrgState,
        *,
        base_url: str = "http://fake.omni",
        max_page_size: int = 100,
        export_flavour: str = "official",
        shape: str = "seed",
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.state = state
        self.shape = shape
        self.base_url = base_url
        self.max_page_size = max_page_size
        self.export_flavour = export_flavour
        self._now = now or (lambda: datetime.now(UTC))

    def now(self) -> str:
        return st.iso(self._now())

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def token(request: web.Request) -> st.Token:
        return request[TOKEN_KEY]

    def _doc(self, ref: str, *, include_deleted: bool = False) -> st.Document:
        doc = self.state.document(ref)
        if doc is None or (doc.deleted and not include_deleted):
            raise ApiError(404, f'Document with identifier "{ref}" not found')
        return doc

    def _folder(self, folder_id: str) -> st.Folder:
        folder = self.state.folders.get(folder_id)
        if folder is None:
            raise ApiError(404, f"Folder {folder_id} not found")
        return folder

    def _user(self, user_id: str) -> st.User:
        user = self.state.users.get(user_id)
        if user is None:
            raise ApiError(404, "User not found")
        return user

    def _group(self, group_id: str) -> st.Group:
        group = self.state.groups.get(group_id)
        if group is None:
            raise ApiError(404, f"User group {group_id} not found")
        return group

    def _model(self, model_id: str) -> st.Model:
        model = self.state.models.get(model_id)
        if model is None or model.deleted_at:
            raise ApiError(404, f"Model {model_id} not found")
        return model

    def _schedule(self, schedule_id: str) -> st.Schedule:
        sched = self.state.schedules.get(schedule_id)
        if sched is None:
            raise ApiError(404, f"Schedule {schedule_id} not found")
        return sched

    def _owner(self, user_id: str | None) -> dict[str, str]:
        user = self.state.users.get(user_id or "")
        return {"id": user_id or "", "name": user.display_name if user else "Unknown"}

    def _acting_owner(self, request: web.Request, user_id: str | None) -> str:
        """Who a create acts as: `userId` (organization keys only) or the key's own user."""
        tok = self.token(request)
        if user_id:
            if tok.kind != "org":
                raise ApiError(
                    403,
                    "User-scoped API keys can only be used to act on behalf of the authenticated user.",
                )
            return self._user(user_id).id
        return tok.user_id or ""

    # ------------------------------------------------------------------ JSON shapes

    def folder_ref(self, folder_id: str | None) -> dict[str, Any] | None:
        folder = self.state.folders.get(folder_id or "")
        if folder is None:
            return None
        return {"id": folder.id, "name": folder.name, "path": folder.path, "scope": folder.scope}

    def document_json(self, doc: st.Document) -> dict[str, Any]:
        kind = "dashboards" if doc.has_dashboard else "w"
        return {
            "identifier": doc.identifier,
            "name": doc.name,
            "type": "document",
            "scope": doc.scope,
            "owner": self._owner(doc.owner_id),
            "folder": self.folder_ref(doc.folder_id),
            "connectionId": doc.connection_id,
            "hasDashboard": doc.has_dashboard,
            "deleted": doc.deleted,
            "description": doc.description,
            "labels": sorted(doc.labels, key=str.lower),
            "updatedAt": doc.updated_at or None,
            "url": f"{self.base_url}/{kind}/{doc.identifier}",
        }

    def folder_json(self, folder: st.Folder) -> dict[str, Any]:
        """Official fields, plus the older spec's `owner`, `scope`, `createdAt` (served in
        the seed shape only: strict.py prunes them from the official one)."""
        return {
            "id": folder.id,
            "name": folder.name,
            "path": folder.path,
            "ownerId": folder.owner_id,
            "labels": folder.labels,
            "url": f"{self.base_url}/f/{folder.path}",
            "owner": self._owner(folder.owner_id),
            "scope": folder.scope,
            "createdAt": folder.created_at,
        }

    def content_folder_json(self, folder: st.Folder) -> dict[str, Any]:
        return {
            "type": "folder",
            "id": folder.id,
            "name": folder.name,
            "path": folder.path,
            "scope": folder.scope,
            "owner": self._owner(folder.owner_id),
            "labels": folder.labels,
            "url": f"{self.base_url}/f/{folder.path}",
        }

    def label_json(self, label: st.Label) -> dict[str, Any]:
        usage = sum(
            1
            for d in self.state.documents.values()
            if label.name.lower() in map(str.lower, d.labels)
        )
        return {
            "name": label.name,
            "verified": label.verified,
            "homepage": label.homepage,
            "color": label.color,
            "description": label.description,
            "usage_count": usage,
        }

    # ------------------------------------------------------------------ documents

    def _visible(self, doc: st.Document, creator: str | None, user: str | None) -> bool:
        if doc.scope == "organization":
            return True
        return doc.owner_id in (creator, user)

    async def list_documents(self, request: web.Request) -> web.Response:
        q = request.query
        include = set(filter(None, q.get("include", "").split(",")))
        labels = {x.lower() for x in q.get("labels", "").split(",") if x}
        creator, user = q.get("creatorId"), q.get("userId")
        docs = [
            d
            for d in self.state.documents.values()
            if (not d.deleted or "includeDeleted" in include)
            and self._visible(d, creator, user)
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
        return _ok({"pageInfo": info, "records": records})

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
        return _ok({"pageInfo": info, "records": records})

    async def get_document(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        if not doc.has_dashboard:
            raise ApiError(400, "Analysis documents are not supported")
        dashboard = doc.export.get("dashboard") or {}
        return _ok(
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
        return _ok({"identifier": doc.identifier, "name": doc.name, "description": doc.description})

    async def delete_document(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        doc.deleted = True
        doc.updated_at = self.now()
        return _ok({"success": True})

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
        return _ok({"queries": queries})

    async def dashboard_filters(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        dashboard = doc.export.get("dashboard") or {}
        return _ok(
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
        return _ok({"success": True})

    async def transfer_ownership(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        new_owner = self._user((await request.json())["userId"]).id
        if new_owner == doc.owner_id:
            return _ok({"success": True})
        if not any(p.user_id == new_owner for p in doc.permits):
            raise ApiError(400, "New owner must have explicit document permission")
        previous = doc.owner_id
        doc.permits = [p for p in doc.permits if p.user_id not in (new_owner, previous)]
        doc.permits.append(st.Permit(user_id=previous, role="MANAGER"))  # Omni's doing (G10)
        doc.owner_id = new_owner
        doc.updated_at = self.now()
        return _ok({"success": True})

    # --- permissions

    def _check_principals(self, body: dict[str, Any]) -> tuple[list[str], list[str]]:
        users, groups = list(body.get("userIds", [])), list(body.get("userGroupIds", []))
        if not users and not groups:
            raise ApiError(400, "At least one of userIds or userGroupIds is required")
        for uid in users:
            if uid not in self.state.users:
                raise ApiError(400, f"userIds: Invalid user id {uid}")
        for gid in groups:
            if gid not in self.state.groups:
                raise ApiError(400, f"userGroupIds: Invalid user group id {gid}")
        return users, groups

    def _grant(
        self, permits: list[st.Permit], body: dict[str, Any], *, update: bool
    ) -> list[st.Permit]:
        users, groups = self._check_principals(body)
        wanted = {("user", u) for u in users} | {("userGroup", g) for g in groups}
        kept = {p.principal: p for p in permits}
        for kind, pid in wanted:
            old = kept.get((kind, pid))
            role = body.get("role") or (old.role if old else "VIEWER")
            boost = body.get("accessBoost", old.access_boost if old else False)
            if update and old is None:
                raise ApiError(404, f"No permission found for {kind} {pid}")
            kept[(kind, pid)] = st.Permit(
                user_id=pid if kind == "user" else None,
                group_id=pid if kind == "userGroup" else None,
                role=role,
                access_boost=boost,
            )
        return list(kept.values())

    def _revoke(self, permits: list[st.Permit], body: dict[str, Any]) -> list[st.Permit]:
        users, groups = set(body.get("userIds", [])), set(body.get("userGroupIds", []))
        return [p for p in permits if p.user_id not in users and p.group_id not in groups]

    async def document_permits(self, request: web.Request) -> web.Response:
        doc = self._doc(request.match_info["identifier"])
        body = await request.json()
        if request.method == "PUT":
            doc.settings.update(body)
        elif request.method == "DELETE":
            doc.permits = self._revoke(doc.permits, body)
        else:
            doc.permits = self._grant(doc.permits, body, update=request.method == "PATCH")
        return _ok({"success": True})

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
        return _ok({"pageInfo": info, "principals": [e for _, e in page]})

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

    def _label(self, name: str) -> st.Label:
        label = self.state.labels.get(name.lower())
        if label is None:
            raise ApiError(404, f"Label {name} not found")
        return label

    def _check_label_rights(self, request: web.Request, label: st.Label) -> None:
        if (label.verified or label.homepage) and not self._is_admin(request):
            raise ApiError(403, "Only admins can apply verified or homepage labels")

    def _is_admin(self, request: web.Request) -> bool:
        return self.token(request).kind == "org"

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
        return _ok({"labels": sorted(doc.labels, key=str.lower)})

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

    def _require_org_key(self, request: web.Request) -> None:
        if self.token(request).kind != "org":
            raise ApiError(
                403,
                "Forbidden: this endpoint requires an organization API key; personal access tokens are not accepted",
            )

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
        return _ok(body)

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
        if existing is not None:  # a trashed document gives its identifier up
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
            export={
                k: body.get(k) for k in ("dashboard", "workbookModel", "queryModels", "fileUploads")
            },
            created_at=stamp,
            updated_at=stamp,
        )
        self.state.documents[doc.id] = doc
        return _ok({"documentId": doc.id, "identifier": doc.identifier}, status=201)

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
        return _ok({"success": True, "message": "Document updated successfully"})

    # ------------------------------------------------------------------ folders

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
        return _ok({"pageInfo": info, "records": [self.folder_json(f) for f in page]})

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
        return _ok(
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
        return _ok({"id": folder.id, "name": folder.name, "path": folder.path})

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
        return _ok({"success": True})

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
            return _ok({"permits": out})
        body = await request.json()
        if request.method == "DELETE":
            folder.permits = self._revoke(folder.permits, body)
        else:
            folder.permits = self._grant(folder.permits, body, update=request.method == "PATCH")
        return _ok({"success": True})

    # ------------------------------------------------------------------ labels

    async def list_labels(self, request: web.Request) -> web.Response:
        labels = sorted(self.state.labels.values(), key=lambda x: x.name.lower())
        return _ok({"labels": [self.label_json(x) for x in labels]})

    async def create_label(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["name"].lower() in self.state.labels:
            raise ApiError(409, f"Label {body['name']} already exists")
        if (body.get("verified") or body.get("homepage")) and not self._is_admin(request):
            raise ApiError(403, "Only admins can create verified or homepage labels")
        label = st.Label(
            **{k: body.get(k) for k in ("name", "color", "description")},
            verified=bool(body.get("verified")),
            homepage=bool(body.get("homepage")),
        )
        self.state.labels[label.name.lower()] = label
        return _ok(self.label_json(label), status=201)

    async def label(self, request: web.Request) -> web.Response:
        label = self._label(request.match_info["name"])
        if request.method == "GET":
            return _ok(self.label_json(label))
        if request.method == "DELETE":
            if self.label_json(label)["usage_count"]:
                raise ApiError(409, f"Label {label.name} is in use")
            del self.state.labels[label.name.lower()]
            return web.Response(status=204)
        body = await request.json()
        if ("verified" in body or "homepage" in body) and not self._is_admin(request):
            raise ApiError(403, "Only admins can change verified or homepage labels")
        for key in ("verified", "homepage", "color", "description"):
            if key in body:
                setattr(label, key, body[key])
        if body.get("name") and body["name"] != label.name:
            del self.state.labels[label.name.lower()]
            label.name = body["name"]
            self.state.labels[label.name.lower()] = label
        return _ok(self.label_json(label))

    # ------------------------------------------------------------------ models, connections

    def model_json(self, model: st.Model) -> dict[str, Any]:
        return {
            "id": model.id,
            "name": model.name,
            "modelKind": model.kind,
            "connectionId": model.connection_id,
            "baseModelId": model.base_model_id,
            "createdAt": model.created_at,
            "updatedAt": model.updated_at,
            "deletedAt": model.deleted_at,
        }

    async def list_models(self, request: web.Request) -> web.Response:
        q = request.query
        include_deleted = q.get("includeDeleted") in ("1", "true")
        models = [
            x
            for x in self.state.models.values()
            if (include_deleted or not x.deleted_at)
            and all(
                not q.get(param) or getattr(x, attr) == q[param]
                for param, attr in (
                    ("modelKind", "kind"),
                    ("connectionId", "connection_id"),
                    ("baseModelId", "base_model_id"),
                    ("name", "name"),
                    ("modelId", "id"),
                )
            )
        ]
        page, info = keyset_page(
            models, lambda x: [x.name or "", x.id], q, default_size=20, max_size=self.max_page_size
        )
        return _ok({"pageInfo": info, "records": [self.model_json(x) for x in page]})

    async def model_yaml(self, request: web.Request) -> web.Response:
        """Two layers (DOC2): a shared model's own files over its schema model's (or, for an
        extension, over its base model's combined files). `combined`, the default, reads
        both; `extension` and `staged` read the model's own layer only. A write in
        `extension` mode sets or (empty) deletes an own file; in `combined` mode a non-empty
        file is copied into the own layer and an empty one is ignored."""
        model = self._model(request.match_info["modelId"])
        if request.method == "GET":
            mode = request.query.get("mode", "combined")
            files = self._combined(model) if mode in ("combined", "merged") else model.files
            return _ok(_yaml_json(files, model.version, request.query.get("includeChecksums")))
        body = await request.json()
        if model.kind == "SCHEMA":
            raise ApiError(400, "Schema models cannot be edited")
        if model.git_follower:
            raise ApiError(400, "Models in git follower mode cannot be edited")
        key = f"{body['fileName']}.yaml"
        extension = body.get("mode") == "extension"
        layer = model.files if extension else self._combined(model)
        previous = body.get("previousChecksum")
        if previous and previous != _checksum(layer.get(key, "")):
            raise ApiError(409, "File has been modified since it was fetched")
        if body["yaml"]:
            model.files[key] = body["yaml"]
        elif extension:
            model.files.pop(key, None)
        model.version += 1
        model.updated_at = self.now()
        files = model.files if extension else self._combined(model)
        return _ok(_yaml_json(files, model.version, "true"))

    def _combined(self, model: st.Model) -> dict[str, str]:
        if model.kind == "SCHEMA":
            return dict(model.files)
        under = self.state.models.get(model.base_model_id or "") or next(
            (
                m
                for m in self.state.models.values()
                if m.kind == "SCHEMA" and m.connection_id == model.connection_id
            ),
            None,
        )
        return {**(self._combined(under) if under else {}), **model.files}

    async def model_git(self, request: web.Request) -> web.Response:
        model = self._model(request.match_info["modelId"])
        if not model.git_follower:
            raise ApiError(404, "Git is not configured for this model")
        return _ok(
            {
                "authMethod": "ssh",
                "baseBranch": "main",
                "branchPerPullRequest": False,
                "cloneUrl": f"git@example.com:acme/{model.name}.git",
                "gitFollower": True,
                "gitServiceProvider": "github",
                "modelPath": None,
                "publicKey": None,
                "requirePullRequest": "never",
                "sshUrl": f"git@example.com:acme/{model.name}.git",
                "webUrl": None,
                "webhookUrl": f"{self.base_url}/webhooks/git/{model.id}",
            }
        )

    async def validate_model(self, request: web.Request) -> web.Response:
        self._model(request.match_info["modelId"])
        return _ok({"valid": True, "issues": []})

    async def refresh_model(self, request: web.Request) -> web.Response:
        model = self._model(request.match_info["modelId"])
        job = st.new_uuid()
        self.state.jobs[job] = model.id
        return _ok({"jobId": job, "modelId": model.id, "status": "running"})

    async def job_status(self, request: web.Request) -> web.Response:
        job = request.match_info["jobId"]
        if job not in self.state.jobs:
            raise ApiError(404, f"Job {job} not found")
        return _ok({"job_id": job, "job_type": "REFRESH_SCHEMA", "status": "COMPLETED"})

    async def list_connections(self, request: web.Request) -> web.Response:
        q = request.query
        conns = [
            c
            for c in self.state.connections.values()
            if (not q.get("name") or q["name"].lower() in c.name.lower())
            and (not q.get("dialect") or c.dialect == q["dialect"])
        ]
        return _ok(
            {
                "connections": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "dialect": c.dialect,
                        "database": c.database,
                        "defaultSchema": c.default_schema,
                        "baseRole": c.base_role,
                        "deletedAt": None,
                        "branchConnectionEnvironmentOverridesUserAttr": None,
                        "environmentConnectionSwitchesSchemaModel": None,
                        "userAttributeNameForConnectionsEnvironments": None,
                        "userAttributeValuesForDefaultEnvironment": [],
                    }
                    for c in sorted(conns, key=lambda c: c.name)
                ]
            }
        )

    async def list_user_attributes(self, request: web.Request) -> web.Response:
        return _ok(
            {
                "records": [
                    {
                        "id": a.id,
                        "name": a.name,
                        "label": a.label,
                        "type": a.type,
                        "system": a.system,
                        "multiple_values": False,
                        "default_value": None,
                        "description": None,
                    }
                    for a in self.state.user_attributes.values()
                ]
            }
        )

    # ------------------------------------------------------------------ schedules

    def schedule_summary(self, s: st.Schedule) -> dict[str, Any]:
        doc = self.state.document(s.identifier)
        owner = self.state.users.get(s.owner_id)
        alert = s.options.get("conditionType")
        out = {
            "id": s.id,
            "name": s.name,
            "identifier": s.identifier,
            "schedule": s.schedule,
            "timezone": s.timezone,
            "format": s.format,
            "destinationType": s.destination_type,
            "disabledAt": s.disabled_at,
            "ownerId": s.owner_id,
            "ownerName": owner.display_name if owner else "",
            "recipientCount": len(s.emails) + len(s.user_ids) + len(s.group_ids),
            "content": "dashboard",
            "dashboardName": doc.name if doc else "",
            "lastCompletedAt": None,
            "lastStatus": None,
            "slackRecipientType": s.options.get("slackRecipientType"),
            "systemDisabledAt": None,
            "systemDisabledReason": None,
        }
        if alert:
            out["alert"] = {
                "conditionType": alert,
                "conditionQueryName": s.options.get("conditionQueryMapKey", ""),
            }
        return out

    async def list_schedules(self, request: web.Request) -> web.Response:
        q = request.query
        size = int(float(q.get("pageSize", 20)))
        if size > 100:
            raise ApiError(400, "Page size cannot exceed 100")
        items = sorted(
            (
                s
                for s in self.state.schedules.values()
                if (not q.get("identifier") or s.identifier == q["identifier"])
                and (not q.get("ownerId") or s.owner_id == q["ownerId"])
                and (not q.get("destination") or s.destination_type == q["destination"])
                and (not q.get("q") or q["q"].lower() in s.name.lower())
            ),
            key=lambda s: (s.name, s.id),
            reverse=q.get("sortDirection", "desc") == "desc",
        )
        try:
            page = int(q.get("cursor", "1"))
        except ValueError as exc:
            raise ApiError(400, "Invalid page number") from exc
        last = max(1, -(-len(items) // size))
        if page < 1 or page > last:
            raise ApiError(400, f"Invalid page number. The last valid page is {last}")
        chunk = items[(page - 1) * size : page * size]
        info = {
            "hasNextPage": page < last,
            "nextCursor": str(page + 1) if page < last else None,
            "pageSize": size,
            "totalRecords": len(items),
        }
        return _ok({"pageInfo": info, "records": [self.schedule_summary(s) for s in chunk]})

    def _recipient(self, user: st.User) -> dict[str, Any]:
        return {
            "id": user.id,
            "membershipId": user.id,
            "membership": {"user": {"email": user.email, "name": user.display_name}},
        }

    def _delivery_metadata(self, s: st.Schedule) -> dict[str, Any]:
        """A destination's untyped `metadata`: the official shape names settings as the
        official create body does; the seed shape keeps only what the older spec has no
        other place for (the webhook URL, Slack targets and SFTP server are in its
        recipients answer instead)."""
        o = s.options
        official = {
            "email": ("subject", "textBody"),
            "webhook": ("webhookUrl",),
            "slack": ("slackRecipientType",),
            "sftp": ("address", "port", "username", "path"),
            "s3": ("bucketName", "keyPrefix", "region", "roleArn"),
        }
        seed = {**official, "webhook": (), "slack": (), "sftp": ("path",)}
        names = (seed if self.shape == "seed" else official).get(s.destination_type, ())
        meta = {k: o[k] for k in names if k in o}
        if s.destination_type == "slack" and self.shape == "official":
            meta["recipients"] = o.get("slackRecipients", [])
        return meta

    async def get_schedule(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        doc = self.state.document(s.identifier)
        owner = self.state.users.get(s.owner_id)
        recipients = [
            self._recipient(self.state.users[u]) for u in s.user_ids if u in self.state.users
        ]
        recipients += [self._recipient(u) for e in s.emails if (u := self.state.user_by_email(e))]
        options = {k: s.options[k] for k in FORMAT_OPTIONS if k in s.options}
        return _ok(
            {
                "id": s.id,
                "name": s.name,
                "schedule": s.schedule,
                "timezone": s.timezone,
                "entityId": doc.id if doc else "",
                "organizationId": self.state.org_id,
                "ownerId": s.owner_id,
                "owner": {"name": owner.display_name if owner else ""},
                "disabledAt": s.disabled_at,
                "systemDisabledAt": None,
                "systemDisabledReason": None,
                "createdAt": s.created_at,
                "updatedAt": s.updated_at,
                "filterConfig": s.options.get("filterConfig"),
                "metadata": {"type": s.destination_type, "format": s.format, **options},
                "conditionType": s.options.get("conditionType"),
                "conditionQueryMapKey": s.options.get("conditionQueryMapKey"),
                "fanOut": bool(s.options.get("fanOut")),
                "killJobsOnFailure": bool(s.options.get("killJobsOnFailure")),
                "destinations": [
                    {
                        "id": s.id,
                        "format": s.format,
                        "lastCompletedAt": None,
                        "lastStatus": None,
                        "metadata": self._delivery_metadata(s),
                        "recipients": recipients,
                        "userGroupRecipients": [
                            {"id": g, "name": self.state.groups[g].name}
                            for g in s.group_ids
                            if g in self.state.groups
                        ],
                    }
                ],
            }
        )

    def _check_filters(self, doc: st.Document, filter_config: Any) -> None:
        if not isinstance(filter_config, dict) or not filter_config:
            return
        known = set((doc.export.get("dashboard") or {}).get("filterConfig", {}))
        unknown = sorted(set(filter_config) - known)
        if unknown:
            raise ApiError(
                400,
                f"Invalid filter keys found: {', '.join(unknown)}. "
                f"Available dashboard filter keys are: {', '.join(sorted(known))}",
            )

    def _can_view(self, doc: st.Document, user_id: str) -> bool:
        """Organization-scoped documents are open to members; restricted ones to their
        owner and to the users their permits (direct, by group, or on a folder) name."""
        if doc.scope == "organization" or doc.owner_id == user_id:
            return True
        groups = {g.id for g in self.state.groups.values() if user_id in g.member_ids}
        permits = list(doc.permits)
        folder = self.state.folders.get(doc.folder_id or "")
        while folder is not None:
            permits += folder.permits
            folder = self.state.folders.get(folder.parent_id or "")
        return any(p.user_id == user_id or p.group_id in groups for p in permits)

    def _schedule_options(self, body: dict[str, Any], destination: str) -> dict[str, Any]:
        """The create body's settings under one name each; both documents' names accepted."""
        options = {k: v for k, v in body.items() if k not in SCHEDULE_CORE}
        url = options.pop("url", None)
        if url and not options.get("webhookUrl"):
            options["webhookUrl"] = url
        recipients = body.get("recipients")
        if destination == "slack":
            options["slackRecipients"] = (
                [recipients] if isinstance(recipients, str) else list(recipients or [])
            )
        required = {
            "webhook": ("webhookUrl",),
            "slack": ("slackRecipientType", "slackRecipients"),
        }.get(destination, ())
        missing = [k for k in required if not options.get(k)]
        if missing:
            raise ApiError(400, f"{', '.join(missing)} required for {destination} destinations")
        return options

    async def create_schedule(self, request: web.Request) -> web.Response:
        body = await request.json()
        doc = self.state.document(body["identifier"])
        if doc is None or doc.deleted or not doc.has_dashboard:
            raise ApiError(404, f"Dashboard {body['identifier']} not found")
        self._check_filters(doc, body.get("filterConfig"))
        owner = self._acting_owner(request, request.query.get("userId"))
        if not self._can_view(doc, owner):
            raise ApiError(403, "The schedule owner does not have access to this dashboard")
        destination = body["destinationType"]
        emails = (
            [r["email"] if isinstance(r, dict) else r for r in body.get("recipients", [])]
            if destination == "email"
            else []
        )
        self._check_emails(emails)
        options = self._schedule_options(body, destination)
        stamp = self.now()
        s = st.Schedule(
            identifier=doc.identifier,
            name=body["name"],
            schedule=body["schedule"],
            timezone=body["timezone"],
            format=body["format"],
            destination_type=destination,
            owner_id=owner,
            emails=emails,
            options=options,
            created_at=stamp,
            updated_at=stamp,
        )
        self.state.schedules[s.id] = s
        return _ok({"id": s.id, "message": "Schedule created successfully"})

    def _check_emails(self, emails: list[str]) -> None:
        known = {u.email.lower() for u in self.state.users.values()} | {
            e.email.lower() for e in self.state.email_only.values()
        }
        bad = [e for e in emails if e.lower() not in known]
        if bad:
            raise ApiError(
                400, f"Invalid recipient(s): {', '.join(bad)}. Add email-only users first."
            )

    async def schedule(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        if request.method == "GET":
            return await self.get_schedule(request)
        if request.method == "DELETE":
            del self.state.schedules[s.id]
            return _ok({"success": True})
        body = await request.json() if request.can_read_body else {}
        for key in ("name", "schedule", "timezone", "format"):
            if key in body:
                setattr(s, key, body[key])
        s.options.update({k: v for k, v in body.items() if k not in SCHEDULE_CORE and k != "url"})
        if body.get("url"):
            s.options["webhookUrl"] = body["url"]
        s.updated_at = self.now()
        return _ok({"success": True})

    async def schedule_recipients(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        out: dict[str, Any] = {"type": s.destination_type, "recipients": []}
        if s.destination_type == "email":
            out["recipients"] = self._email_recipients(s)
            out["userGroupRecipients"] = [
                {
                    "id": g,
                    "name": self.state.groups[g].name,
                    "recipients": [
                        {
                            "id": m,
                            "email": self.state.users[m].email,
                            "name": self.state.users[m].display_name,
                        }
                        for m in self.state.groups[g].member_ids
                        if m in self.state.users
                    ],
                }
                for g in s.group_ids
                if g in self.state.groups
            ]
        elif self.shape == "seed":  # the older spec's per-destination shapes
            out |= self._seed_destination(s)
        else:
            out["userGroupRecipients"] = []
        return _ok(out)

    def _email_recipients(self, s: st.Schedule) -> list[dict[str, Any]]:
        people = [self.state.users[u] for u in s.user_ids if u in self.state.users]
        recips = [{"id": u.id, "email": u.email, "name": u.display_name} for u in people]
        for email in s.emails:
            user = self.state.user_by_email(email)
            eo = next(
                (x for x in self.state.email_only.values() if x.email.lower() == email.lower()),
                None,
            )
            rid = user.id if user else (eo.user_id if eo else st.new_uuid())
            recips.append({"id": rid, "email": email, "name": user.display_name if user else email})
        if self.shape == "seed":
            for r in recips:
                r["emailOnly"] = r["id"] not in self.state.users
        return recips

    def _seed_destination(self, s: st.Schedule) -> dict[str, Any]:
        o = s.options
        if s.destination_type == "webhook":
            return {"url": o.get("webhookUrl")}
        if s.destination_type == "slack":
            kind = o.get("slackRecipientType")
            return {
                "recipients": [
                    {"recipientType": kind, "slackId": x} for x in o.get("slackRecipients", [])
                ]
            }
        if s.destination_type == "sftp":
            return {k: o[k] for k in ("address", "port", "username") if k in o}
        return {}

    async def change_recipients(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        if s.destination_type != "email":
            raise ApiError(400, "Recipients can only be changed on email schedules")
        body = await request.json()
        emails, users, groups = (
            body.get("emails", []),
            body.get("userIds", []),
            body.get("userGroupIds", []),
        )
        for uid in users:
            self._user(uid)
        for gid in groups:
            self._group(gid)
        if request.path.endswith("/add-recipients"):
            self._check_emails(emails)
            added = _extend(s.emails, emails, key=str.lower) + _extend(s.user_ids, users)
            added_groups = _extend(s.group_ids, groups)
            return _ok(
                {
                    "success": True,
                    "addedRecipientsCount": added,
                    "addedGroupRecipientsCount": added_groups,
                }
            )
        before = len(s.emails) + len(s.user_ids)
        lower = {e.lower() for e in emails}
        s.emails = [e for e in s.emails if e.lower() not in lower]
        s.user_ids = [u for u in s.user_ids if u not in users]
        group_before = len(s.group_ids)
        s.group_ids = [g for g in s.group_ids if g not in groups]
        return _ok(
            {
                "success": True,
                "removedRecipientsCount": before - len(s.emails) - len(s.user_ids),
                "removedGroupRecipientsCount": group_before - len(s.group_ids),
            }
        )

    async def toggle_schedule(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        pause = request.path.endswith("/pause")
        if pause == (s.disabled_at is not None):
            raise ApiError(400, f"Schedule is already {'paused' if pause else 'resumed'}")
        s.disabled_at = self.now() if pause else None
        return _ok({"success": True})

    async def schedule_owner(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        user = self._user((await request.json())["userId"])
        if user.id == s.owner_id:
            raise ApiError(400, "User already owns the schedule")
        s.owner_id = user.id
        return _ok({"success": True})

    # ------------------------------------------------------------------ SCIM

    def scim_user(self, user: st.User) -> dict[str, Any]:
        return {
            "schemas": [SCIM_USER],
            "id": user.id,
            "userName": user.email,
            "displayName": user.display_name,
            "active": user.active,
            "emails": [{"primary": True, "value": user.email}],
            "groups": [
                {"display": g.name, "value": g.id}
                for g in self.state.groups.values()
                if user.id in g.member_ids
            ],
            "urn:omni:params:1.0:UserAttribute": user.attributes,
        }

    def scim_group(self, group: st.Group, members: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"schemas": [SCIM_GROUP], "id": group.id, "displayName": group.name}
        if members:
            out["members"] = [
                {"value": m, "display": self.state.users[m].email}
                for m in group.member_ids
                if m in self.state.users
            ]
        return out

    @staticmethod
    def _scim_filter(query: Any, attr: str) -> str | None:
        raw = query.get("filter")
        if not raw:
            return None
        match = re.fullmatch(rf'\s*{attr}\s+eq\s+"([^"]*)"\s*', raw, flags=re.IGNORECASE)
        if not match:
            raise ApiError(400, f"Unsupported filter: {raw}")
        return match.group(1)

    @staticmethod
    def _scim_page(items: list[dict[str, Any]], query: Any) -> dict[str, Any]:
        try:
            start, count = int(query.get("startIndex", "1")), int(query.get("count", "100"))
        except ValueError as exc:
            raise ApiError(400, "startIndex and count must be integers") from exc
        start = max(start, 1)
        chunk = items[start - 1 : start - 1 + max(count, 0)]
        return {
            "schemas": [SCIM_LIST],
            "totalResults": len(items),
            "startIndex": start,
            "itemsPerPage": len(chunk),
            "Resources": chunk,
        }

    async def scim_users(self, request: web.Request) -> web.Response:
        self._require_org_key(request)
        embed = "/embed/" in request.path
        if request.method == "POST":
            body = await request.json()
            if self.state.user_by_email(body["userName"]):
                raise ApiError(409, f"User with email {body['userName']} already exists")
            user = st.User(
                email=body["userName"],
                display_name=body["displayName"],
                attributes=body.get("urn:omni:params:1.0:UserAttribute") or {},
            )
            self.state.users[user.id] = user
            return _ok(self.scim_user(user), status=201)
        wanted = self._scim_filter(request.query, "userName")
        users = sorted(
            (
                u
                for u in self.state.users.values()
                if u.embed == embed and (wanted is None or u.email.lower() == wanted.lower())
            ),
            key=lambda u: u.email,
        )
        return _ok(self._scim_page([self.scim_user(u) for u in users], request.query))

    async def scim_user_item(self, request: web.Request) -> web.Response:
        self._require_org_key(request)
        user = self._user(request.match_info["id"])
        if request.method == "PUT":
            body = await request.json()
            if body["userName"].lower() != user.email.lower():
                raise ApiError(400, "userName must match the user's current email")
            user.display_name = body.get("displayName", user.display_name)
            user.active = body.get("active", True)
            user.attributes = body.get("urn:omni:params:1.0:UserAttribute", user.attributes) or {}
        return _ok(self.scim_user(user))

    async def scim_groups(self, request: web.Request) -> web.Response:
        self._require_org_key(request)
        if request.method == "POST":
            body = await request.json()
            if any(g.name == body["displayName"] for g in self.state.groups.values()):
                raise ApiError(409, f"Group {body['displayName']} already exists")
            members = [m["value"] for m in body.get("members", [])]
            for m in members:
                self._user(m)
            group = st.Group(name=body["displayName"], member_ids=members)
            self.state.groups[group.id] = group
            return _ok(self.scim_group(group), status=201)
        wanted = self._scim_filter(request.query, "displayName")
        members = request.query.get("excludedAttributes") != "members"
        groups = sorted(
            (g for g in self.state.groups.values() if wanted is None or g.name == wanted),
            key=lambda g: g.name,
        )
        return _ok(self._scim_page([self.scim_group(g, members) for g in groups], request.query))

    async def scim_group_item(self, request: web.Request) -> web.Response:
        self._require_org_key(request)
        group = self._group(request.match_info["miniUuid"])
        if request.method == "PATCH":
            for op in (await request.json())["Operations"]:
                self._apply_group_op(group, op)
        elif request.method == "PUT":
            body = await request.json()
            group.name = body["displayName"]
            group.member_ids = [self._user(m["value"]).id for m in body["members"]]
        return _ok(self.scim_group(group, request.query.get("excludedAttributes") != "members"))

    def _apply_group_op(self, group: st.Group, op: dict[str, Any]) -> None:
        kind, path, value = op["op"].lower(), op.get("path"), op.get("value")
        if kind == "add" and path == "members":
            _extend(group.member_ids, [self._user(v["value"]).id for v in value])
        elif kind == "remove" and path:
            match = re.search(r'value eq "([^"]+)"', path)
            drop = {match.group(1)} if match else set(group.member_ids)
            group.member_ids = [m for m in group.member_ids if m not in drop]
        elif kind == "replace" and path == "members":
            group.member_ids = [self._user(v["value"]).id for v in value]
        elif kind == "replace":
            group.name = value if isinstance(value, str) else value["displayName"]

    # ------------------------------------------------------------------ email-only users, roles

    async def email_only(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            q = request.query
            users = [
                u
                for u in self.state.email_only.values()
                if not q.get("email") or u.email == q["email"]
            ]
            page, info = keyset_page(
                users,
                lambda u: [u.email],
                q,
                default_size=20,
                max_size=20,
                descending=q.get("sortDirection", "desc") == "desc",
            )
            return _ok(
                {
                    "pageInfo": info,
                    "records": [
                        {"email": u.email, "user_id": u.user_id, "user_attributes": u.attributes}
                        for u in page
                    ],
                }
            )
        self._require_org_key(request)
        body = await request.json()
        if request.path.endswith("/bulk"):
            if len(body["users"]) > 20:
                raise ApiError(400, "At most 20 users per request")
            results = [self._upsert_email_only(u) for u in body["users"]]
            return _ok({"results": results}, status=201)
        return _ok(self._upsert_email_only(body))

    def _upsert_email_only(self, body: dict[str, Any]) -> dict[str, str]:
        email = body["email"]
        user = next(
            (u for u in self.state.email_only.values() if u.email.lower() == email.lower()), None
        )
        if user is None:
            user = st.EmailOnlyUser(email=email)
            self.state.email_only[user.user_id] = user
        user.attributes.update(body.get("userAttributes") or {})
        return {"email": user.email, "userId": user.user_id}

    async def model_roles(self, request: web.Request) -> web.Response:
        is_group = "/user-groups/" in request.path
        pid = request.match_info["id"]
        name = self._group(pid).name if is_group else self._user(pid).display_name
        kind = "group" if is_group else "user"
        id_key = "userGroupId" if is_group else "membershipId"
        if request.method == "POST":
            body = await request.json()
            model = self._model(body["modelId"]) if body.get("modelId") else None
            if model and model.kind not in ("SHARED", "SHARED_EXTENSION"):
                raise ApiError(
                    400, "Only shared and shared_extension models can be assigned model roles"
                )
            conn = body.get("connectionId") or (model.connection_id if model else None)
            if not conn:
                raise ApiError(400, "modelId or connectionId is required")
            self.state.model_roles = [
                r
                for r in self.state.model_roles
                if not (
                    r.principal_type == kind
                    and r.principal_id == pid
                    and r.model_id == (model.id if model else None)
                    and r.connection_id == conn
                )
            ]
            self.state.model_roles.append(
                st.ModelRole(
                    principal_type=kind,
                    principal_id=pid,
                    role_name=body["roleName"],
                    model_id=model.id if model else None,
                    connection_id=conn,
                )
            )
            return _ok(
                {
                    id_key: pid,
                    "modelId": model.id if model else self._any_model(conn),
                    "connectionId": conn,
                    "roleName": body["roleName"],
                }
            )
        q = request.query
        roles = [
            r
            for r in self.state.model_roles
            if r.principal_type == kind
            and r.principal_id == pid
            and (not q.get("modelId") or r.model_id == q["modelId"])
            and (not q.get("connectionId") or r.connection_id == q["connectionId"])
        ]
        origin = (
            {"type": "GROUP", "depth": 0, "miniUuid": pid, "name": name}
            if is_group
            else {"type": "USER"}
        )
        results = [
            {
                "modelId": r.model_id or self._any_model(r.connection_id),
                "connectionId": r.connection_id,
                "roleName": r.role_name,
                "baseRole": "VIEWER",
                "priority": 1,
                "from": origin,
                **({} if is_group else {"resolved": True}),
            }
            for r in roles
        ]
        if not is_group:  # groups' roles reach their members, as Omni's resolution shows them
            for r in self.state.model_roles:
                group = self.state.groups.get(r.principal_id)
                if r.principal_type == "group" and group and pid in group.member_ids:
                    results.append(
                        {
                            "modelId": r.model_id or self._any_model(r.connection_id),
                            "connectionId": r.connection_id,
                            "roleName": r.role_name,
                            "baseRole": "VIEWER",
                            "priority": 2,
                            "resolved": False,
                            "from": {
                                "type": "GROUP",
                                "depth": 0,
                                "miniUuid": group.id,
                                "name": group.name,
                            },
                        }
                    )
        return _ok({id_key: pid, "results": results})

    def _any_model(self, connection_id: str | None) -> str:
        return next(
            (m.id for m in self.state.models.values() if m.connection_id == connection_id),
            st.new_uuid(),
        )


def _yaml_json(files: dict[str, str], version: int, checksums: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"files": dict(sorted(files.items())), "version": version}
    if checksums == "true":
        out["checksums"] = {k: _checksum(v) for k, v in files.items()}
    return out


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _extend(target: list[str], new: Iterable[str], key: Callable[[str], str] = lambda s: s) -> int:
    have = {key(x) for x in target}
    added = 0
    for item in new:
        if key(item) not in have:
            target.append(item)
            have.add(key(item))
            added += 1
    return added
