"""The fake Lightdash's groups: the organization's list (paged, with members or not), a
create (names are unique) and a group's members."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.base import ApiBase, LightdashError, Route, ok


class GroupsApi(ApiBase):
    def group_json(self, group: st.Group, members: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uuid": group.uuid,
            "name": group.name,
            "organizationUuid": self.state.org_uuid,
            "createdAt": group.created_at,
            "createdByUserUuid": None,
            "updatedAt": group.created_at,
            "updatedByUserUuid": None,
        }
        if members:
            out["memberUuids"] = list(group.members)
            out["members"] = [self.member(self.state.users[u]) for u in group.members]
        return out

    async def org_groups(self, request: web.Request) -> web.Response:
        members = float(request.query.get("includeMembers", 0) or 0) > 0
        groups = sorted(self.state.groups.values(), key=lambda g: g.name)
        return ok(self.paged(request, [self.group_json(g, members) for g in groups]))

    async def create_group(self, request: web.Request) -> web.Response:
        body = await request.json()
        if any(g.name == body["name"] for g in self.state.groups.values()):
            raise LightdashError(409, "AlreadyExistsError", f"Group {body['name']} already exists")
        members = [self.user(m["userUuid"]).uuid for m in body.get("members", [])]
        return ok(self.group_json(self.state.add_group(body["name"], members), True))

    async def group_members(self, request: web.Request) -> web.Response:
        group = self.group(request.match_info["groupUuid"])
        return ok([self.member(self.state.users[u]) for u in group.members])

    async def add_member(self, request: web.Request) -> web.Response:
        group = self.group(request.match_info["groupUuid"])
        user = self.user(request.match_info["userUuid"])
        if user.uuid not in group.members:
            group.members.append(user.uuid)
        return ok()

    def group_routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v1/org/groups", self.org_groups),
            Route("POST", "/api/v1/org/groups", self.create_group),
            Route("GET", "/api/v1/groups/{groupUuid}/members", self.group_members),
            Route("PUT", "/api/v1/groups/{groupUuid}/members/{userUuid}", self.add_member),
        ]
