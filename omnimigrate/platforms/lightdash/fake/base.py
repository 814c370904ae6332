"""What every resource of the fake Lightdash shares: its error envelope, lookups, paging and
the JSON shapes more than one resource answers with.

Requests reach the handlers only after auth, the rate limit and the spec's check (see
server.py), so bodies already have the documented shape; what is checked here is what
Lightdash itself checks (existence, conflicts), with its error names. Each resource
(organization, projects, groups, user attributes, spaces, charts, dashboards, SQL charts,
schedulers, validation) is a module of its own with its handlers and its routes; the
content-as-code download and upload they share is as_code.py; `api.py` puts them together.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st

USER_KEY = web.RequestKey("user", str)

Handler = Callable[[web.Request], Awaitable[web.Response]]


class LightdashError(Exception):
    """Answered in Lightdash's error envelope."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message


def error_response(
    status: int, name: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"status": "error", "error": {"name": name, "statusCode": status, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def ok(results: Any = None, status: int = 200) -> web.Response:
    body = {"status": "ok", "results": results} if results is not None else {"status": "ok"}
    return web.json_response(body, status=status)


def not_found(what: str) -> LightdashError:
    return LightdashError(404, "NotFoundError", f"{what} not found")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler


PROJECT = "/api/v1/projects/{projectUuid}"
SPACE = PROJECT + "/spaces/{spaceUuid}"


class ApiBase:
    """Handlers bound to one organization's state, and the release they play."""

    def __init__(
        self,
        state: st.LightdashState,
        *,
        code_page_size: int,
        nested: bool,
        version: str = "0.1471.0",
        creator_share: bool = True,
        validation_polls: int = 0,
    ) -> None:
        self.state = state
        # Lightdash's SpaceService.createSpace gives the creator a direct admin share, always
        # (../shared/real-lightdash/README.md)
        self.creator_share = creator_share
        self.code_page_size = code_page_size
        self.nested = nested  # serve spaces' parents (a newer Lightdash than the spec)
        self.version = version
        # 1.219: spaces inherit or not (isPrivate ignored), code/* routes, logs under `data`
        self.modern = int(version.split(".")[0]) >= 1
        self.validation_polls = validation_polls  # status reads a job answers `started` to

    def code_path(self, project: st.Project, space: st.Space) -> str:
        """How 1.219's content as code names a space: its slugs from the root, joined by
        `/` (0.1471: its slug)."""
        if not self.modern:
            return space.slug
        chain, seen = [space.slug], {space.uuid}
        parent = project.spaces.get(space.parent or "")
        while parent is not None and parent.uuid not in seen:
            chain.insert(0, parent.slug)
            seen.add(parent.uuid)
            parent = project.spaces.get(parent.parent or "")
        return "/".join(chain)

    # ------------------------------------------------------------------ lookups

    def project(self, request: web.Request) -> st.Project:
        project = self.state.projects.get(request.match_info["projectUuid"])
        if project is None:
            raise not_found("Project")
        return project

    def space(self, project: st.Project, request: web.Request) -> st.Space:
        space = project.spaces.get(request.match_info["spaceUuid"])
        if space is None:
            raise not_found("Space")
        return space

    def user(self, user_uuid: str) -> st.User:
        user = self.state.users.get(user_uuid)
        if user is None:
            raise not_found(f"User {user_uuid}")
        return user

    def group(self, group_uuid: str) -> st.Group:
        group = self.state.groups.get(group_uuid)
        if group is None:
            raise not_found(f"Group {group_uuid}")
        return group

    def paged(self, request: web.Request, items: list[Any]) -> dict[str, Any]:
        size = int(float(request.query.get("pageSize", 0) or 0)) or len(items) or 1
        page = max(1, int(float(request.query.get("page", 1))))
        chunk = items[(page - 1) * size : page * size]
        pages = math.ceil(len(items) / size) if items else 0
        pagination = {"page": page, "pageSize": size, "totalResults": len(items),
                      "totalPageCount": pages}  # fmt: skip
        return {"data": chunk, "pagination": pagination}

    # ------------------------------------------------------------------ shared shapes

    def member(self, user: st.User) -> dict[str, Any]:
        return {
            "userUuid": user.uuid,
            "email": user.email,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "avatarUrl": None,  # 1.219 requires these two (null when unset)
            "avatarGradient": None,
        }

    def space_summary(self, project: st.Project, space: st.Space) -> dict[str, Any]:
        out = {
            "uuid": space.uuid,
            "name": space.name,
            "slug": space.slug,
            "projectUuid": project.uuid,
            "organizationUuid": self.state.org_uuid,
            "isPrivate": space.is_private,
            "pinnedListUuid": None,
            "pinnedListOrder": None,
            "access": sorted(space.users),
            "chartCount": sum(1 for c in project.charts.values() if c.space == space.uuid),
            "dashboardCount": sum(1 for d in project.dashboards.values() if d.space == space.uuid),
        }
        if self.nested:
            out["parentSpaceUuid"] = space.parent
        if self.modern:
            out |= {
                "inheritParentPermissions": not space.is_private,
                "inheritsFromOrgOrProject": not space.is_private and space.parent is None,
                "projectMemberAccessRole": space.member_role,
                "path": self.code_path(project, space).replace("-", "_").replace("/", "."),
                "appCount": 0,
                "childSpaceCount": sum(
                    1 for c in project.spaces.values() if c.parent == space.uuid
                ),
            }
        return out

    def chart_summary(self, project: st.Project, chart: st.Chart) -> dict[str, Any]:
        space = project.spaces[chart.space]
        board = project.dashboards.get(chart.dashboard or "")
        return {
            "uuid": chart.uuid,
            "name": chart.content["name"],
            "slug": chart.slug,
            "projectUuid": project.uuid,
            "organizationUuid": self.state.org_uuid,
            "spaceUuid": space.uuid,
            "spaceName": space.name,
            "dashboardUuid": board.uuid if board else None,
            "dashboardName": board.content["name"] if board else None,
            "pinnedListUuid": None,
            "pinnedListOrder": None,
            "updatedAt": chart.updated_at,
            "views": 0,
            "firstViewedAt": "2026-01-01T00:00:00Z",
            "chartType": chart.content["chartConfig"]["type"],
            "verification": None,  # 1.219: content verification (never set here)
        }

    def dashboard_summary(self, project: st.Project, board: st.Dashboard) -> dict[str, Any]:
        return {
            "uuid": board.uuid,
            "name": board.content["name"],
            "projectUuid": project.uuid,
            "organizationUuid": self.state.org_uuid,
            "spaceUuid": board.space,
            "pinnedListUuid": None,
            "pinnedListOrder": None,
            "updatedAt": board.updated_at,
            "views": 0,
            "firstViewedAt": "2026-01-01T00:00:00Z",
            "slug": board.slug,
            "verification": None,
        }
