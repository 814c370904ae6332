"""The fake Lightdash's projects: the organization's list, a project and its scheduler
settings, and who may use it (users by email, groups by uuid)."""

from __future__ import annotations

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.base import (
    PROJECT,
    ApiBase,
    LightdashError,
    Route,
    not_found,
    ok,
)


class ProjectsApi(ApiBase):
    async def org_projects(self, request: web.Request) -> web.Response:
        return ok([
            {"projectUuid": p.uuid, "name": p.name, "type": "DEFAULT",
             "upstreamProjectUuid": p.upstream, "createdByUserUuid": None,
             "createdByUserName": None, "createdAt": "2025-01-01T00:00:00Z", "expiresAt": None,
             "warehouseType": "postgres", "requireUserCredentials": False}
            for p in self.state.projects.values()
        ])  # fmt: skip

    async def get_project(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return ok({
            "projectUuid": project.uuid, "name": project.name, "type": "DEFAULT",
            "organizationUuid": self.state.org_uuid,
            **({"upstreamProjectUuid": project.upstream} if project.upstream else {}),
            "dbtConnection": {"type": "none"}, "pinnedListUuid": st.new_uuid(),
            "createdByUserUuid": None, "schedulerTimezone": project.scheduler_timezone,
            "dbtVersion": "v1.9",
            # 1.219 requires these
            "agentSqlScope": None, "expiresAt": None, "colorPaletteUuid": None,
            "hasDefaultUserSpaces": False, "schedulerFailureContactOverride": None,
            "schedulerFailureIncludeContact": False, "schedulerFailureNotifyRecipients": False,
            "useProjectTimezoneInFilters": False, "queryTimezone": None,
        })  # fmt: skip

    async def scheduler_settings(self, request: web.Request) -> web.Response:
        project = self.project(request)
        project.scheduler_timezone = (await request.json())["schedulerTimezone"]
        return ok()

    # ------------------------------------------------------------------ access

    async def project_access(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return ok([
            {**self.member(self.state.users[u]), "role": role, "projectUuid": project.uuid}
            for u, role in sorted(project.access.items())
        ])  # fmt: skip

    async def grant_project_access(self, request: web.Request) -> web.Response:
        project = self.project(request)
        body = await request.json()
        user = self.state.user_by_email(body["email"])
        if user is None:
            raise LightdashError(404, "NotExistsError", "There is no user with this email")
        if user.uuid in project.access:
            raise LightdashError(409, "AlreadyExistsError", "User already has access")
        project.access[user.uuid] = body["role"]
        return ok()

    async def update_project_access(self, request: web.Request) -> web.Response:
        project = self.project(request)
        user = request.match_info["userUuid"]
        if user not in project.access:
            raise not_found("Project member")
        project.access[user] = (await request.json())["role"]
        return ok()

    async def group_accesses(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return ok([
            {"groupUuid": g, "projectUuid": project.uuid, "role": role}
            for g, role in sorted(project.group_access.items())
        ])  # fmt: skip

    async def grant_group_access(self, request: web.Request) -> web.Response:
        project = self.project(request)
        group = self.group(request.match_info["groupUuid"])
        if group.uuid in project.group_access and request.method == "POST":
            raise LightdashError(409, "AlreadyExistsError", "Group already has access")
        role = (await request.json())["role"]
        project.group_access[group.uuid] = role
        return ok({"groupUuid": group.uuid, "projectUuid": project.uuid, "role": role})

    def project_routes(self) -> list[Route]:
        group_access = "/api/v1/groups/{groupUuid}/projects/{projectUuid}"
        return [
            Route("GET", "/api/v1/org/projects", self.org_projects),
            Route("GET", PROJECT, self.get_project),
            Route("PATCH", PROJECT + "/schedulerSettings", self.scheduler_settings),
            Route("GET", PROJECT + "/access", self.project_access),
            Route("POST", PROJECT + "/access", self.grant_project_access),
            Route("PATCH", PROJECT + "/access/{userUuid}", self.update_project_access),
            Route("GET", PROJECT + "/groupAccesses", self.group_accesses),
            Route("POST", group_access, self.grant_group_access),
            Route("PATCH", group_access, self.grant_group_access),
        ]
