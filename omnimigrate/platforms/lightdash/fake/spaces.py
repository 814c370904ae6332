"""The fake Lightdash's spaces: private or not (1.219: inheriting or not), nested where the
release does, with user and group shares; deleting one deletes what it holds."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.base import (
    PROJECT,
    SPACE,
    USER_KEY,
    ApiBase,
    Route,
    not_found,
    ok,
)


class SpacesApi(ApiBase):
    def share(self, user_uuid: str, role: str) -> dict[str, Any]:
        return {**self.member(self.state.users[user_uuid]), "role": role, "hasDirectAccess": True,
                "isInternal": False}  # fmt: skip

    def space_json(
        self, project: st.Project, space: st.Space, caller: str | None = None
    ) -> dict[str, Any]:
        summary = self.space_summary(project, space)
        access = [self.share(u, role) for u, role in sorted(space.users.items())]
        if self.modern:  # 1.219 lists only the caller and admins here (the rest: …/access)
            admins = {u for u, x in self.state.users.items() if x.role == "admin"}
            access = [a for a in access if a["userUuid"] in admins | {caller}]
        groups = [
            {"groupUuid": g, "groupName": self.state.groups[g].name, "spaceRole": role}
            for g, role in sorted(space.groups.items())
        ]
        charts = [c for c in project.charts.values() if c.space == space.uuid]
        boards = [d for d in project.dashboards.values() if d.space == space.uuid]
        modern = {"colorPaletteUuid": None, "breadcrumbs": [],
                  "childSpaces": [self.space_summary(project, c) for c in project.spaces.values()
                                  if c.parent == space.uuid]} if self.modern else {}  # fmt: skip
        return {
            **{k: v for k, v in summary.items() if k not in ("chartCount", "dashboardCount")},
            **modern,
            "access": access,
            "groupsAccess": groups,
            "queries": [self.chart_summary(project, c) for c in charts],
            "dashboards": [self.dashboard_summary(project, d) for d in boards],
        }

    async def list_spaces(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return ok([self.space_summary(project, s) for s in project.spaces.values()])

    async def get_space(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return ok(self.space_json(project, self.space(project, request), request[USER_KEY]))

    async def space_access(self, request: web.Request) -> web.Response:
        """1.219's paged share list; `directOnly` keeps the direct shares (the fake models
        only those)."""
        project = self.project(request)
        space = self.space(project, request)
        shares = [self.share(u, role) for u, role in sorted(space.users.items())]
        return ok(self.paged(request, shares))

    async def create_space(self, request: web.Request) -> web.Response:
        project = self.project(request)
        body = await request.json()
        parent = body.get("parentSpaceUuid") if self.nested else None
        if parent is not None and parent not in project.spaces:
            raise not_found("Parent space")
        slug = project.unique_slug(
            st.slugify(body["name"]), {s.slug for s in project.spaces.values()}
        )
        # 1.219 ignores isPrivate: a space inherits unless told not to
        restricted = (
            not body.get("inheritParentPermissions", True)
            if self.modern
            else bool(body.get("isPrivate"))
        )
        space = st.Space(st.new_uuid(), body["name"], slug, restricted, parent)
        for share in body.get("access", []):
            space.users[self.user(share["userUuid"]).uuid] = share["role"]
        if self.creator_share:
            space.users[request[USER_KEY]] = "admin"
        project.spaces[space.uuid] = space
        return ok(self.space_json(project, space, request[USER_KEY]))

    async def update_space(self, request: web.Request) -> web.Response:
        project = self.project(request)
        space = self.space(project, request)
        body = await request.json()
        space.name = body["name"]
        if self.modern and "projectMemberAccessRole" in body:
            space.member_role = body["projectMemberAccessRole"]
        if self.modern and "inheritParentPermissions" in body:
            space.is_private = not body["inheritParentPermissions"]
        elif not self.modern:
            space.is_private = body["isPrivate"]
        return ok(self.space_json(project, space, request[USER_KEY]))

    async def delete_space(self, request: web.Request) -> web.Response:
        """`DeleteSpace`: the real 1.219 answered 200 `{"status": "ok"}` (its spec says 204);
        0.1471's spec says 204 "Deleted" (with no body, as 204 has none). What the space held
        goes with it (`Project.delete_space`)."""
        project = self.project(request)
        project.delete_space(self.space(project, request).uuid)
        return ok() if self.modern else web.Response(status=204)

    # ------------------------------------------------------------------ shares

    async def share_space(self, request: web.Request) -> web.Response:
        project = self.project(request)
        space = self.space(project, request)
        body = await request.json()
        space.users[self.user(body["userUuid"]).uuid] = body["spaceRole"]
        return ok()

    async def unshare_space(self, request: web.Request) -> web.Response:
        space = self.space(self.project(request), request)
        space.users.pop(request.match_info["userUuid"], None)
        return ok()

    async def share_space_group(self, request: web.Request) -> web.Response:
        project = self.project(request)
        space = self.space(project, request)
        body = await request.json()
        space.groups[self.group(body["groupUuid"]).uuid] = body["spaceRole"]
        return ok()

    async def unshare_space_group(self, request: web.Request) -> web.Response:
        space = self.space(self.project(request), request)
        space.groups.pop(request.match_info["groupUuid"], None)
        return ok()

    def space_routes(self) -> list[Route]:
        modern = [Route("GET", SPACE + "/access", self.space_access)] if self.modern else []
        return [
            *modern,
            Route("GET", PROJECT + "/spaces", self.list_spaces),
            Route("POST", PROJECT + "/spaces", self.create_space),
            Route("GET", SPACE, self.get_space),
            Route("PATCH", SPACE, self.update_space),
            Route("DELETE", SPACE, self.delete_space),
            Route("POST", SPACE + "/share", self.share_space),
            Route("DELETE", SPACE + "/share/{userUuid}", self.unshare_space),
            Route("POST", SPACE + "/group/share", self.share_space_group),
            Route("DELETE", SPACE + "/group/share/{groupUuid}", self.unshare_space_group),
        ]
