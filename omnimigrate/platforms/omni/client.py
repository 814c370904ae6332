"""Async, typed client for the Omni REST API (the subset backup and restore use).

Routes follow the official `openapi.json`. Where the older spec (the seed) differs, the
official route is tried first and the older one on 404/405; whichever answers is remembered
for the rest of the client's life (see `_Fallback`).

Page sizes are the largest each endpoint documents: 100 for cursor lists (the older spec's
documents maximum, and the content / access-list maximum), 20 for email-only users, 100 for
SCIM (its default; no maximum is documented).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, SecretStr

from omnimigrate.http.errors import OmniAPIError, OmniConflict, OmniNotFound
from omnimigrate.http.ratelimit import Clock, RateLimiter, Sleep
from omnimigrate.http.retry import RetryPolicy, call_with_retries
from omnimigrate.http.transport import Observer, Reply, Transport
from omnimigrate.platforms.omni import models as m

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Ids = Sequence[str]

PAGE_SIZE = 100
EMAIL_ONLY_PAGE_SIZE = 20
SCIM_PAGE_SIZE = 100

DOC = "/api/v1/documents/{identifier}"
FOLDER = "/api/v1/folders/{folderId}"
SCHEDULE = "/api/v1/schedules/{scheduleId}"
MODEL_YAML = "/api/v1/models/{modelId}/yaml"
MODEL_YAML_SEED = "/api/unstable/models/{modelId}/yaml"


class _Fallback:
    """Remembers which of two route variants an instance answers."""

    def __init__(self) -> None:
        self.use_seed = False


class OmniClient:
    """One instance, one API key. Share `session` between clients of the same instance."""

    platform = "omni"

    def __init__(
        self,
        base_url: str,
        token: str | SecretStr,
        *,
        session: aiohttp.ClientSession | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 120.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        observer: Observer | None = None,
    ) -> None:
        self._own_session = session is None
        self._session = session or aiohttp.ClientSession()
        self.transport = Transport(
            base_url,
            token,
            session=self._session,
            limiter=limiter or RateLimiter(60),
            timeout=timeout,
            clock=clock,
            observer=observer,
        )
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._yaml_route = _Fallback()
        self._move_route = _Fallback()

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def __repr__(self) -> str:
        return f"OmniClient({self.base_url!r}, key={self.transport.key_id})"

    async def close(self) -> None:
        if self._own_session:
            await self._session.close()

    async def __aenter__(self) -> OmniClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ plumbing

    async def _call(
        self,
        method: str,
        route: str,
        *,
        path: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        recover: Callable[[], Awaitable[Reply | None]] | None = None,
    ) -> Reply:
        async def attempt(number: int) -> Reply:
            return await self.transport.send(
                method, route, path_params=path, params=params, json_body=json, attempt=number
            )

        return await call_with_retries(
            attempt,
            self.retry,
            idempotent=method != "POST" if idempotent is None else idempotent,
            recover=recover,
            sleep=self._sleep,
        )

    async def _get(self, route: str, model: type[M], **kw: Any) -> M:
        reply = await self._call("GET", route, **kw)
        return model.model_validate(reply.body)

    async def _write(self, method: str, route: str, model: type[M], **kw: Any) -> M:
        reply = await self._call(method, route, **kw)
        return model.model_validate(reply.body if reply.body is not None else {})

    async def _with_seed_fallback(
        self,
        choice: _Fallback,
        official: Callable[[], Awaitable[T]],
        seed: Callable[[], Awaitable[T]],
    ) -> T:
        """Prefer the official route; on 404/405 from it try the older one and remember."""
        if choice.use_seed:
            return await seed()
        try:
            return await official()
        except OmniAPIError as err:
            if err.status not in (404, 405):
                raise
            result = await seed()
            choice.use_seed = True
            return result

    async def _cursor(
        self,
        route: str,
        model: type[M],
        *,
        items: str = "records",
        key: Callable[[dict[str, Any]], str] | None = None,
        path_params: dict[str, str] | None = None,
        **params: Any,
    ) -> AsyncIterator[M]:
        """Walk a cursor-paginated list. Cursors are keyset-style, so records seen on an
        earlier page (by `key`, default `id`) are dropped; `key=NO_DEDUPE` keeps all."""
        key = key or _field("id")
        params.setdefault("pageSize", PAGE_SIZE)
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            reply = await self._call(
                "GET", route, path=path_params, params={**params, "cursor": cursor}
            )
            for raw in reply.body.get(items, []):
                ident = key(raw)
                if ident and ident in seen:
                    continue
                seen.add(ident)
                yield model.model_validate(raw)
            info = m.PageInfo.model_validate(reply.body.get("pageInfo") or {"hasNextPage": False})
            if not info.has_next_page or not info.next_cursor or info.next_cursor == cursor:
                return
            cursor = info.next_cursor

    async def _scim(self, route: str, model: type[M], **params: Any) -> AsyncIterator[M]:
        """Walk a SCIM list: 1-based startIndex, count per page, totalResults overall."""
        start = 1
        while True:
            reply = await self._call(
                "GET", route, params={**params, "startIndex": start, "count": SCIM_PAGE_SIZE}
            )
            resources = reply.body.get("Resources") or []
            for raw in resources:
                yield model.model_validate(raw)
            start += len(resources)
            if not resources or start > int(reply.body.get("totalResults", 0)):
                return

    # ------------------------------------------------------------------ content, documents

    def list_content(self, **filters: Any) -> AsyncIterator[m.Document | m.ContentFolder]:
        """GET /content: documents and folders (filters: path, folderId, scope, creatorId)."""

        async def walk() -> AsyncIterator[m.Document | m.ContentFolder]:
            async for rec in self._cursor(
                "/api/v1/content", m.ApiModel, key=_content_key, include="labels", **filters
            ):
                raw = rec.dump()
                if raw.get("type") == "folder":
                    yield m.ContentFolder.model_validate(raw)
                else:
                    yield m.Document.model_validate(raw)

        return walk()

    def list_documents(
        self, *, include_deleted: bool = False, **filters: Any
    ) -> AsyncIterator[m.Document]:
        """GET /documents (filters: folderId, creatorId, userId, labels)."""
        include = "labels,includeDeleted" if include_deleted else "labels"
        return self._cursor(
            "/api/v1/documents", m.Document, key=_field("identifier"), include=include, **filters
        )

    def list_favorites(self, user_id: str) -> AsyncIterator[m.Document]:
        """GET /documents?userId&include=onlyFavorites: the documents a user has favorited."""
        return self._cursor(
            "/api/v1/documents",
            m.Document,
            key=_field("identifier"),
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

    async def document_exists(self, identifier: str) -> bool:
        """GET /documents/{id}: 404 absent; 200, or 400 for non-dashboard documents, present."""
        try:
            await self.get_document(identifier)
        except OmniNotFound:
            return False
        except OmniAPIError as err:
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

    async def document_queries(self, identifier: str) -> list[m.DocumentQuery]:
        reply = await self._call("GET", DOC + "/queries", path={"identifier": identifier})
        return [m.DocumentQuery.model_validate(q) for q in reply.body.get("queries", [])]

    async def dashboard_filters(self, identifier: str) -> m.DashboardFilters:
        return await self._get(
            "/api/v1/dashboards/{identifier}/filters",
            m.DashboardFilters,
            path={"identifier": identifier},
        )

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
        body = _permit_body(role, user_ids, group_ids, access_boost)
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
        body = _permit_body(role, user_ids, group_ids, access_boost)
        return await self._permits("PATCH", DOC, {"identifier": identifier}, body)

    async def revoke_document_permits(
        self, identifier: str, *, user_ids: Ids = (), group_ids: Ids = ()
    ) -> m.Success:
        body = _principals(user_ids, group_ids)
        return await self._permits("DELETE", DOC, {"identifier": identifier}, body)

    async def update_document_permission_settings(
        self, identifier: str, settings: dict[str, Any]
    ) -> m.Success:
        return await self._write(
            "PUT", DOC + "/permissions", m.Success, path={"identifier": identifier}, json=settings
        )

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

    async def add_document_label(self, identifier: str, label: str) -> None:
        await self._call(
            "PUT", DOC + "/labels/{labelName}", path={"identifier": identifier, "labelName": label}
        )

    async def remove_document_label(self, identifier: str, label: str) -> None:
        await self._call(
            "DELETE",
            DOC + "/labels/{labelName}",
            path={"identifier": identifier, "labelName": label},
        )

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

    # ------------------------------------------------------------------ folders

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

    async def delete_folder(self, folder_id: str, *, force: bool = False) -> m.Success:
        return await self._write(
            "DELETE", FOLDER, m.Success, path={"folderId": folder_id}, params={"force": force}
        )

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
        body = _permit_body(role, user_ids, group_ids, access_boost)
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
        body = _permit_body(role, user_ids, group_ids, access_boost)
        return await self._permits("PATCH", FOLDER, {"folderId": folder_id}, body)

    async def revoke_folder_permits(
        self, folder_id: str, *, user_ids: Ids = (), group_ids: Ids = ()
    ) -> m.Success:
        body = _principals(user_ids, group_ids)
        return await self._permits("DELETE", FOLDER, {"folderId": folder_id}, body)

    async def _permits(
        self, method: str, owner: str, path: dict[str, str], body: dict[str, Any]
    ) -> m.Success:
        """Permit writes are idempotent: a grant repeated or a revoke repeated ends the same."""
        route = owner + "/permissions"
        return await self._write(method, route, m.Success, path=path, json=body, idempotent=True)

    # ------------------------------------------------------------------ labels

    async def list_labels(self) -> list[m.Label]:
        reply = await self._call("GET", "/api/v1/labels")
        return [m.Label.model_validate(x) for x in reply.body.get("labels", [])]

    async def get_label(self, name: str) -> m.Label:
        return await self._get("/api/v1/labels/{name}", m.Label, path={"name": name})

    async def create_label(
        self,
        name: str,
        *,
        verified: bool = False,
        homepage: bool = False,
        color: str | None = None,
        description: str | None = None,
    ) -> m.Label:
        """POST /labels. Raises OmniConflict when a label of that name (any case) exists."""
        body = {"name": name, "verified": verified, "homepage": homepage}
        body.update({k: v for k, v in {"color": color, "description": description}.items() if v})

        async def recover() -> Reply | None:
            try:
                label = await self.get_label(name)
            except OmniNotFound:
                return None
            return Reply(201, label.dump(), {})

        return await self._write("POST", "/api/v1/labels", m.Label, json=body, recover=recover)

    async def update_label(self, name: str, **fields: Any) -> m.Label:
        body = {_camel(k): v for k, v in fields.items()}
        return await self._write(
            "PUT", "/api/v1/labels/{name}", m.Label, path={"name": name}, json=body
        )

    async def delete_label(self, name: str) -> None:
        await self._call("DELETE", "/api/v1/labels/{name}", path={"name": name})

    # ------------------------------------------------------------------ models, connections

    def list_models(self, **filters: Any) -> AsyncIterator[m.Model]:
        """GET /models (filters: modelKind, connectionId, baseModelId, name)."""
        return self._cursor("/api/v1/models", m.Model, **filters)

    async def get_model_yaml(
        self, model_id: str, *, mode: str = "combined", include_checksums: bool = False
    ) -> m.ModelYaml:
        params = {"mode": mode, "includeChecksums": include_checksums or None}
        path = {"modelId": model_id}
        return await self._with_seed_fallback(
            self._yaml_route,
            lambda: self._get(MODEL_YAML, m.ModelYaml, path=path, params=params),
            lambda: self._get(MODEL_YAML_SEED, m.ModelYaml, path=path, params=params),
        )

    async def put_model_yaml(
        self,
        model_id: str,
        file_name: str,
        yaml: str,
        *,
        mode: str = "combined",
        commit_message: str | None = None,
        previous_checksum: str | None = None,
    ) -> dict[str, Any]:
        """Create or overwrite one YAML file (`model`, `relationships`, `x.view`, `x.topic`)."""
        body = {"fileName": file_name, "yaml": yaml, "mode": mode}
        body.update(
            {
                k: v
                for k, v in {
                    "commitMessage": commit_message,
                    "previousChecksum": previous_checksum,
                }.items()
                if v
            }
        )
        path = {"modelId": model_id}

        async def post(route: str) -> dict[str, Any]:
            reply = await self._call("POST", route, path=path, json=body, idempotent=True)
            return reply.body

        return await self._with_seed_fallback(
            self._yaml_route, lambda: post(MODEL_YAML), lambda: post(MODEL_YAML_SEED)
        )

    async def model_git(self, model_id: str) -> m.GitConfig | None:
        """Git settings, or None when git is not configured (404)."""
        try:
            return await self._get(
                "/api/v1/models/{modelId}/git", m.GitConfig, path={"modelId": model_id}
            )
        except OmniNotFound:
            return None

    async def validate_model(self, model_id: str) -> dict[str, Any]:
        reply = await self._call(
            "GET", "/api/v1/models/{modelId}/validate", path={"modelId": model_id}
        )
        return reply.body

    async def refresh_model(self, model_id: str) -> dict[str, Any]:
        reply = await self._call(
            "POST", "/api/v1/models/{modelId}/refresh", path={"modelId": model_id}, idempotent=True
        )
        return reply.body

    async def job_status(self, job_id: str) -> m.JobStatus:
        return await self._get("/api/v1/jobs/{jobId}/status", m.JobStatus, path={"jobId": job_id})

    async def list_connections(self, **filters: Any) -> list[m.Connection]:
        reply = await self._call("GET", "/api/v1/connections", params=filters)
        return [m.Connection.model_validate(c) for c in reply.body.get("connections", [])]

    async def list_user_attributes(self) -> list[m.UserAttribute]:
        reply = await self._call("GET", "/api/v1/user-attributes")
        return [m.UserAttribute.model_validate(a) for a in reply.body.get("records", [])]

    # ------------------------------------------------------------------ schedules

    def list_schedules(self, **filters: Any) -> AsyncIterator[m.ScheduleSummary]:
        """GET /schedules: its cursor is a page number, the walk is the same."""
        return self._cursor("/api/v1/schedules", m.ScheduleSummary, **filters)

    async def get_schedule(self, schedule_id: str) -> m.Schedule:
        return await self._get(SCHEDULE, m.Schedule, path={"scheduleId": schedule_id})

    async def schedule_recipients(self, schedule_id: str) -> m.ScheduleRecipients:
        return await self._get(
            SCHEDULE + "/recipients", m.ScheduleRecipients, path={"scheduleId": schedule_id}
        )

    async def create_schedule(
        self, body: dict[str, Any], *, owner_id: str | None = None
    ) -> m.ScheduleCreated:
        """POST /schedules (as `owner_id`, organization key). After an ambiguous failure a
        schedule with the same dashboard, name, cron and destination is taken as the result."""
        if body.get("testNow"):
            raise ValueError("refusing to create a schedule with testNow: it would send it now")

        async def recover() -> Reply | None:
            async for s in self.list_schedules(identifier=body["identifier"]):
                if (s.name, s.schedule, s.destination_type) == (
                    body["name"],
                    body["schedule"],
                    body["destinationType"],
                ):
                    return Reply(200, {"id": s.id, "message": "recovered"}, {})
            return None

        return await self._write(
            "POST",
            "/api/v1/schedules",
            m.ScheduleCreated,
            params={"userId": owner_id},
            json=body,
            recover=recover,
        )

    async def update_schedule(self, schedule_id: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self._call("PUT", SCHEDULE, path={"scheduleId": schedule_id}, json=body)
        return reply.body or {}

    async def delete_schedule(self, schedule_id: str) -> m.Success:
        return await self._write("DELETE", SCHEDULE, m.Success, path={"scheduleId": schedule_id})

    async def add_schedule_recipients(
        self,
        schedule_id: str,
        *,
        emails: Ids = (),
        user_ids: Ids = (),
        group_ids: Ids = (),
    ) -> dict[str, Any]:
        return await self._recipients("add", schedule_id, emails, user_ids, group_ids)

    async def remove_schedule_recipients(
        self,
        schedule_id: str,
        *,
        emails: Ids = (),
        user_ids: Ids = (),
        group_ids: Ids = (),
    ) -> dict[str, Any]:
        return await self._recipients("remove", schedule_id, emails, user_ids, group_ids)

    async def _recipients(
        self, verb: str, schedule_id: str, emails: list[str], users: list[str], groups: list[str]
    ) -> dict[str, Any]:
        body = {
            k: list(v)
            for k, v in {"emails": emails, "userIds": users, "userGroupIds": groups}.items()
            if v
        }
        reply = await self._call(
            "PUT", SCHEDULE + f"/{verb}-recipients", path={"scheduleId": schedule_id}, json=body
        )
        return reply.body

    async def pause_schedule(self, schedule_id: str) -> bool:
        """Pause; False when it was already paused (a benign 400 on re-runs)."""
        return await self._toggle_schedule(schedule_id, "pause")

    async def resume_schedule(self, schedule_id: str) -> bool:
        return await self._toggle_schedule(schedule_id, "resume")

    async def _toggle_schedule(self, schedule_id: str, verb: str) -> bool:
        try:
            await self._call("PUT", SCHEDULE + f"/{verb}", path={"scheduleId": schedule_id})
        except OmniAPIError as err:
            if err.status == 400 and "already" in err.detail.lower():
                return False
            raise
        return True

    async def transfer_schedule_ownership(self, schedule_id: str, user_id: str) -> m.Success:
        return await self._write(
            "PUT",
            SCHEDULE + "/transfer-ownership",
            m.Success,
            path={"scheduleId": schedule_id},
            json={"userId": user_id},
        )

    # ------------------------------------------------------------------ users and groups

    def list_users(self, *, filter: str | None = None) -> AsyncIterator[m.ScimUser]:
        """SCIM users (organization key)."""
        return self._scim("/api/scim/v2/Users", m.ScimUser, filter=filter)

    def list_embed_users(self) -> AsyncIterator[m.ScimUser]:
        return self._scim("/api/scim/v2/embed/Users", m.ScimUser)

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
        except OmniConflict:
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
        except OmniConflict:
            found = await self.find_group(name)
            if found is None:
                raise
            return found

    async def add_group_members(self, group_id: str, member_ids: list[str]) -> m.ScimGroup:
        """SCIM PATCH add (PUT would overwrite the membership)."""
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": v} for v in member_ids]}
            ],
        }
        return await self._write(
            "PATCH",
            "/api/scim/v2/Groups/{miniUuid}",
            m.ScimGroup,
            path={"miniUuid": group_id},
            json=body,
        )

    def list_email_only_users(self) -> AsyncIterator[m.EmailOnlyUser]:
        return self._cursor(
            "/api/v1/users/email-only",
            m.EmailOnlyUser,
            key=_field("email"),
            pageSize=EMAIL_ONLY_PAGE_SIZE,
        )

    async def upsert_email_only_user(
        self, email: str, attributes: dict[str, Any] | None = None
    ) -> m.EmailOnlyUpsert:
        body: dict[str, Any] = {"email": email}
        if attributes:
            body["userAttributes"] = attributes
        return await self._write(
            "POST", "/api/v1/users/email-only", m.EmailOnlyUpsert, json=body, idempotent=True
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


def _field(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda raw: str(raw.get(name) or "")


def NO_DEDUPE(raw: dict[str, Any]) -> str:
    """A document's access list may name a principal twice (direct and via folder)."""
    return ""


def _content_key(raw: dict[str, Any]) -> str:
    return f"{raw.get('type')}:{raw.get('identifier') or raw.get('id')}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _principals(user_ids: Ids, group_ids: Ids) -> dict[str, list[str]]:
    return {k: list(v) for k, v in {"userIds": user_ids, "userGroupIds": group_ids}.items() if v}


def _permit_body(role: str, user_ids: Ids, group_ids: Ids, access_boost: bool) -> dict[str, Any]:
    if not user_ids and not group_ids:
        raise ValueError("a permit needs at least one user or group id")
    return {"role": role, "accessBoost": access_boost, **_principals(user_ids, group_ids)}
