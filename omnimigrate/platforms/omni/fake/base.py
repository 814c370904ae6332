"""What every resource of the fake shares: errors, pagination, lookups and JSON shapes.

Requests reach the handlers only after the conformance check, auth and the rate limit
(see server.py), so bodies already have the documented shape; what is checked here is what
Omni itself checks (existence, scope, conflicts), with its error texts. Each resource
(documents, folders, labels, models, schedules, SCIM, people, favorites) is a module of its
own with its handlers and its routes; `api.py` puts them together.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from aiohttp import web

from omnimigrate.platforms.omni.fake import state as st

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


def ok(body: Any, status: int = 200) -> web.Response:
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


Generation = Literal["all", "current", "seed"]


@dataclass(frozen=True)
class Route:
    """One route: `generation` says which Omni serves it ("current": today's official spec
    only; "seed": an older instance's only, per the older spec; "all": both)."""

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    generation: Generation = "all"


class ApiBase:
    """Handlers bound to one organization's state."""

    def __init__(
        self,
        state: st.OrgState,
        *,
        base_url: str = "http://fake.omni",
        max_page_size: int = 100,
        export_flavour: str = "official",
        shape: str = "seed",
        renew_query_keys: bool = True,
        trash_keeps_identifier: bool = True,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.state = state
        self.shape = shape
        self.renew_query_keys = renew_query_keys
        self.trash_keeps_identifier = trash_keeps_identifier
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

    def can_view(self, doc: st.Document, user_id: str) -> bool:
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

    # Checks several resources share (each resource sees only this base, not its siblings)

    def _require_org_key(self, request: web.Request) -> None:
        if self.token(request).kind != "org":
            raise ApiError(
                403,
                "Forbidden: this endpoint requires an organization API key; personal access tokens are not accepted",
            )

    def _is_admin(self, request: web.Request) -> bool:
        return self.token(request).kind == "org"

    def _label(self, name: str) -> st.Label:
        label = self.state.labels.get(name.lower())
        if label is None:
            raise ApiError(404, f"Label {name} not found")
        return label

    def favorited(self, doc: st.Document, user_id: str) -> bool:
        return user_id in doc.favorited_by and self.can_view(doc, user_id)

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


def yaml_json(files: dict[str, str], version: int, checksums: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"files": dict(sorted(files.items())), "version": version}
    if checksums == "true":
        out["checksums"] = {k: checksum(v) for k, v in files.items()}
    return out


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def extend(target: list[str], new: Iterable[str], key: Callable[[str], str] = lambda s: s) -> int:
    have = {key(x) for x in target}
    added = 0
    for item in new:
        if key(item) not in have:
            target.append(item)
            have.add(key(item))
            added += 1
    return added
