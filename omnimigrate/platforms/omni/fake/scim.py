"""The fake's SCIM users and groups: Omni's behaviour (DIGEST.md) for them, and their routes."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.base import (
    SCIM_GROUP,
    SCIM_LIST,
    SCIM_USER,
    ApiBase,
    ApiError,
    Route,
    extend,
    ok,
)


class ScimApi(ApiBase):
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
            return ok(self.scim_user(user), status=201)
        wanted = self._scim_filter(request.query, "userName")
        users = sorted(
            (
                u
                for u in self.state.users.values()
                if u.embed == embed and (wanted is None or u.email.lower() == wanted.lower())
            ),
            key=lambda u: u.email,
        )
        return ok(self._scim_page([self.scim_user(u) for u in users], request.query))

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
        return ok(self.scim_user(user))

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
            return ok(self.scim_group(group), status=201)
        wanted = self._scim_filter(request.query, "displayName")
        with_members = request.query.get("excludedAttributes") != "members"
        groups = sorted(
            (g for g in self.state.groups.values() if wanted is None or g.name == wanted),
            key=lambda g: g.name,
        )
        return ok(
            self._scim_page([self.scim_group(g, with_members) for g in groups], request.query)
        )

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
        return ok(self.scim_group(group, request.query.get("excludedAttributes") != "members"))

    def _apply_group_op(self, group: st.Group, op: dict[str, Any]) -> None:
        kind, path = op["op"].lower(), op.get("path")
        value: Any = op.get("value")  # any JSON; which shape depends on the op and path
        if kind == "add" and path == "members":
            extend(group.member_ids, [self._user(v["value"]).id for v in value])
        elif kind == "remove" and path:
            match = re.search(r'value eq "([^"]+)"', path)
            drop = {match.group(1)} if match else set(group.member_ids)
            group.member_ids = [m for m in group.member_ids if m not in drop]
        elif kind == "replace" and path == "members":
            group.member_ids = [self._user(v["value"]).id for v in value]
        elif kind == "replace":
            group.name = value if isinstance(value, str) else value["displayName"]

    def scim_routes(self) -> list[Route]:
        return [
            Route("GET", "/api/scim/v2/Users", self.scim_users),
            Route("POST", "/api/scim/v2/Users", self.scim_users),
            Route("GET", "/api/scim/v2/Users/{id}", self.scim_user_item),
            Route("PUT", "/api/scim/v2/Users/{id}", self.scim_user_item),
            Route("GET", "/api/scim/v2/embed/Users", self.scim_users),
            Route("GET", "/api/scim/v2/Groups", self.scim_groups),
            Route("POST", "/api/scim/v2/Groups", self.scim_groups),
            *[
                Route(m, "/api/scim/v2/Groups/{miniUuid}", self.scim_group_item)
                for m in ("GET", "PUT", "PATCH")
            ],
        ]
