"""The Omni client's plumbing: one call with retries, typed reads and writes, cursor and SCIM
pagination, and the fallback between official and older routes.

Routes follow the official `openapi.json`. Where the older spec (the seed) differs, the
official route is tried first and the older one on 404/405; whichever answers is remembered
for the rest of the client's life (see `_Fallback`).

Page sizes are the largest each endpoint documents: 100 for cursor lists (the older spec's
documents maximum, and the content / access-list maximum), 20 for email-only users, 100 for
SCIM (its default; no maximum is documented).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr

from omnimigrate.errors import ApiStatusError
from omnimigrate.http.client import ApiClient
from omnimigrate.platforms.omni import api_objects as m

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


class ClientBase(ApiClient):
    """What every endpoint group calls through: one instance, one API key."""

    platform = "omni"

    def __init__(self, base_url: str, token: str | SecretStr, **options: Any) -> None:
        super().__init__(base_url, token, **options)
        self._yaml_route = _Fallback()
        self._move_route = _Fallback()

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
        except ApiStatusError as err:
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
        key = key or field_key("id")
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

    async def _permits(
        self, method: str, owner: str, path: dict[str, str], body: dict[str, Any]
    ) -> m.Success:
        """Permit writes are idempotent: a grant repeated or a revoke repeated ends the same."""
        route = owner + "/permissions"
        return await self._write(method, route, m.Success, path=path, json=body, idempotent=True)

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


def field_key(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda raw: str(raw.get(name) or "")


def NO_DEDUPE(raw: dict[str, Any]) -> str:
    """A document's access list may name a principal twice (direct and via folder)."""
    return ""


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def principals(user_ids: Ids, group_ids: Ids) -> dict[str, list[str]]:
    return {k: list(v) for k, v in {"userIds": user_ids, "userGroupIds": group_ids}.items() if v}


def permit_body(role: str, user_ids: Ids, group_ids: Ids, access_boost: bool) -> dict[str, Any]:
    if not user_ids and not group_ids:
        raise ValueError("a permit needs at least one user or group id")
    return {"role": role, "accessBoost": access_boost, **principals(user_ids, group_ids)}
