"""The fake Lightdash's routes: what each documented operation does to the state, and the
JSON it answers with (`{"status": "ok", "results": ...}`).

Lightdash's own checks are modelled where backup and restore meet them: content-as-code
upserts find a chart or dashboard by slug within the project, answer "no changes" to an
identical upload, resolve a tile's `chartSlug` (NotFoundError when missing) and create a
missing space unless `skipSpaceCreate`; a space is private or not, with user and group
access. The README lists every choice the documents leave open.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.validator import TARGETS, Validator

USER_KEY = web.RequestKey("user", str)
CONTENT_FIELDS = ("name", "description", "tableName", "metricQuery", "chartConfig", "tableConfig")
DASHBOARD_FIELDS = ("name", "description", "tabs", "filters", "tiles")
SCHEDULER_FIELDS = (
    "name", "message", "format", "cron", "timezone", "enabled", "options", "thresholds",
    "notificationFrequency", "includeLinks", "filters", "selectedTabs", "customViewportWidth",
)  # fmt: skip
# Not in the public spec of 0.1471: the routes Lightdash's web app creates schedulers through
# (1.219 declares both, the dashboard's as MODERN_DASHBOARD_SCHEDULERS).
UNOFFICIAL_SCHEDULER_ROUTES = (
    "/api/v1/saved/{chartUuid}/schedulers",
    "/api/v1/dashboards/{dashboardUuid}/schedulers",
)
MODERN_DASHBOARD_SCHEDULERS = "/api/v1/dashboards/{dashboardUuidOrSlug}/schedulers"
SQL_CHART_SCHEDULERS = "/api/v1/projects/{projectUuid}/sqlRunner/saved/{savedSqlUuid}/schedulers"
# what 1.219's CreateSchedulerAndTargetsWithoutIds requires (tsoa answers 422 without one)
SCHEDULER_REQUIRED = ("name", "cron", "enabled", "format", "appUuid", "appName", "options",
                      "includeLinks", "targets")  # fmt: skip
SQL_CHART_FIELDS = ("name", "description", "sql", "limit", "config", "chartKind")
SQL_CHART_UPSERT = "/api/v1/projects/{projectUuid}/code/sqlCharts/{slug}"

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


class Api:
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
        self.validator = Validator(state, self.modern)
        self.validation_polls = validation_polls  # status reads a job answers `started` to

    def refusal(self, route: str, method: str, body: Any) -> LightdashError | None:
        """What 1.219 refuses before its spec's check: a scheduler create without a field its
        body's type requires (`appUuid`, `appName`, `options`, `includeLinks`…) answers 422
        (tsoa's validation), as the real server did."""
        creates = (
            UNOFFICIAL_SCHEDULER_ROUTES[0],
            MODERN_DASHBOARD_SCHEDULERS,
            SQL_CHART_SCHEDULERS,
        )
        if not self.modern or method != "POST" or route not in creates:
            return None
        lacking = [k for k in SCHEDULER_REQUIRED if k not in (body or {})]
        if lacking:
            said = ", ".join(f"body.{k}: '{k}' is required" for k in lacking)
            return LightdashError(422, "ValidateError", said)
        return None

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

    def space_by_code_path(self, project: st.Project, path: str) -> st.Space | None:
        return next(
            (s for s in project.spaces.values() if self.code_path(project, s) == path), None
        )

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

    def scheduler(self, request: web.Request) -> tuple[st.Project, st.Scheduler]:
        for project in self.state.projects.values():
            found = project.schedulers.get(request.match_info["schedulerUuid"])
            if found:
                return project, found
        raise not_found("Scheduler")

    def chart_anywhere(self, chart_uuid: str) -> tuple[st.Project, st.Chart]:
        for project in self.state.projects.values():
            if chart_uuid in project.charts:
                return project, project.charts[chart_uuid]
        raise not_found("Saved chart")

    def dashboard_anywhere(self, dashboard_uuid: str) -> tuple[st.Project, st.Dashboard]:
        for project in self.state.projects.values():
            if dashboard_uuid in project.dashboards:
                return project, project.dashboards[dashboard_uuid]
        raise not_found("Dashboard")

    # ------------------------------------------------------------------ shapes

    def member(self, user: st.User) -> dict[str, Any]:
        return {
            "userUuid": user.uuid,
            "email": user.email,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "avatarUrl": None,  # 1.219 requires these two (null when unset)
            "avatarGradient": None,
        }

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

    def chart_code(self, project: st.Project, chart: st.Chart) -> dict[str, Any]:
        out = {k: chart.content[k] for k in CONTENT_FIELDS if k in chart.content}
        board = project.dashboards.get(chart.dashboard or "")
        if board:
            out["dashboardSlug"] = board.slug
        return {
            **out,
            "slug": chart.slug,
            "updatedAt": chart.updated_at,
            "spaceSlug": self.code_path(project, project.spaces[chart.space]),
            "version": 1,
            "downloadedAt": self.state.now(),
        }

    def sql_chart_code(self, project: st.Project, chart: st.SqlChart) -> dict[str, Any]:
        return {
            **chart.content,
            "slug": chart.slug,
            "updatedAt": chart.updated_at,
            "spaceSlug": self.code_path(project, project.spaces[chart.space]),
            "contentType": "sql_chart",
            "version": 1,
            "downloadedAt": self.state.now(),
        }

    def sql_chart_json(self, project: st.Project, chart: st.SqlChart) -> dict[str, Any]:
        """1.219's SqlChart (`GET sqlRunner/saved/slug/{slug}`)."""
        space = project.spaces[chart.space]
        user = self.state.users.get(chart.created_by or "")
        by = {"userUuid": user.uuid, "firstName": user.first_name,
              "lastName": user.last_name} if user else None  # fmt: skip
        return {
            **chart.content,
            "savedSqlUuid": chart.uuid,
            "slug": chart.slug,
            "space": {"uuid": space.uuid, "name": space.name},
            "dashboard": None,
            "project": {"projectUuid": project.uuid},
            "organization": {"organizationUuid": self.state.org_uuid},
            "views": 0,
            "firstViewedAt": chart.updated_at,
            "lastViewedAt": chart.updated_at,
            "createdAt": chart.updated_at,
            "createdBy": by,
            "lastUpdatedAt": chart.updated_at,
            "lastUpdatedBy": by,
            "resolvedColorPalette": {"source": {"type": "default"}, "paletteName": None,
                                     "paletteUuid": None, "darkColors": None, "colors": []},
        }  # fmt: skip

    def tile_code(self, project: st.Project, tile: dict[str, Any]) -> dict[str, Any]:
        props = dict(tile["properties"])
        if tile["type"] == "saved_chart":
            chart = project.charts.get(props.pop("savedChartUuid") or "")
            props = {k: v for k, v in props.items() if k in ("title", "hideTitle")}
            if chart:
                props["chartSlug"] = chart.slug
        return {**tile, "properties": props}

    def dashboard_code(self, project: st.Project, board: st.Dashboard) -> dict[str, Any]:
        content = board.content
        out: dict[str, Any] = {
            k: content[k] for k in ("name", "description", "tabs", "filters") if k in content
        }
        return {
            **out,
            "tiles": [self.tile_code(project, t) for t in content["tiles"]],
            "slug": board.slug,
            "updatedAt": board.updated_at,
            "spaceSlug": self.code_path(project, project.spaces[board.space]),
            "version": 1,
            "downloadedAt": self.state.now(),
        }

    def chart_dao(self, project: st.Project, chart: st.Chart) -> dict[str, Any]:
        summary = self.chart_summary(project, chart)
        keep = ("views", "firstViewedAt", "chartType")
        return {
            **{k: v for k, v in summary.items() if k not in keep},
            **{k: chart.content[k] for k in CONTENT_FIELDS if k in chart.content},
            "colorPalette": [],
            "colorPaletteUuid": None,
            "resolvedColorPalette": {
                "source": {"type": "default"},
                "paletteName": None,
                "paletteUuid": None,
                "darkColors": None,
                "colors": [],
            },
            "spacePath": self.code_path(project, project.spaces[chart.space]),
        }

    def dashboard_dao(self, project: st.Project, board: st.Dashboard) -> dict[str, Any]:
        content = board.content
        tiles = [{**t, "properties": dict(t["properties"])} for t in content["tiles"]]
        return {
            **self.dashboard_summary(project, board),
            **{k: content[k] for k in ("description",) if k in content},
            "slug": board.slug,
            "spaceName": project.spaces[board.space].name,
            "dashboardVersionId": 1,
            "versionUuid": board.uuid,
            "colorPaletteUuid": None,
            "spacePath": self.code_path(project, project.spaces[board.space]),
            "tiles": tiles,
            "filters": content["filters"],
            "tabs": content["tabs"],
        }

    def scheduler_json(self, scheduler: st.Scheduler) -> dict[str, Any]:
        stamp = scheduler.fields["updatedAt"]
        targets = []
        for t in scheduler.targets:
            common = {"schedulerUuid": scheduler.uuid, "createdAt": stamp, "updatedAt": stamp}
            if "channel" in t:
                targets.append({**common, **t, "schedulerSlackTargetUuid": t["uuid"]})
            else:
                targets.append({**common, **t, "schedulerEmailTargetUuid": t["uuid"]})
        for target in targets:
            target.pop("uuid")
        out = {**scheduler.fields, "schedulerUuid": scheduler.uuid, "targets": targets}
        if self.modern:  # 1.219's SchedulerBase: these are required
            out = {"appUuid": None, "appName": None, "savedSqlUuid": None, "savedSqlName": None,
                   "plainTextEmail": False, "selectedTabs": None, "createdByName": None,
                   "savedChartName": None, "dashboardName": None,
                   "slug": scheduler.slug, **out}  # fmt: skip
        return out

    # ------------------------------------------------------------------ org, users, groups

    async def health(self, request: web.Request) -> web.Response:
        return ok({"healthy": True, "version": self.version, "mode": "default",
                   "isAuthenticated": True, "requiresOrgRegistration": False})  # fmt: skip

    async def me(self, request: web.Request) -> web.Response:
        user = self.state.users[request[USER_KEY]]
        return ok({
            **self.member(user),
            "organizationUuid": self.state.org_uuid,
            "organizationName": self.state.org_name,
            "role": user.role,
            "isTrackingAnonymized": False,
            "isMarketingOptedIn": False,
            "isSetupComplete": True,
            "createdAt": "2025-01-01T00:00:00Z",
            "updatedAt": "2025-01-01T00:00:00Z",
            "isActive": True,
            "userId": 1, "timezone": None, "impersonation": None,  # 1.219 requires them
        })  # fmt: skip

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

    def paged(self, request: web.Request, items: list[Any]) -> dict[str, Any]:
        size = int(float(request.query.get("pageSize", 0) or 0)) or len(items) or 1
        page = max(1, int(float(request.query.get("page", 1))))
        chunk = items[(page - 1) * size : page * size]
        pages = math.ceil(len(items) / size) if items else 0
        pagination = {"page": page, "pageSize": size, "totalResults": len(items),
                      "totalPageCount": pages}  # fmt: skip
        return {"data": chunk, "pagination": pagination}

    async def org_users(self, request: web.Request) -> web.Response:
        users = [
            {**self.member(u), "organizationUuid": self.state.org_uuid, "role": u.role,
             "isActive": True, "userCreatedAt": "2025-01-01T00:00:00Z",
             "userUpdatedAt": "2025-01-01T00:00:00Z"}
            for u in sorted(self.state.users.values(), key=lambda u: u.email)
        ]  # fmt: skip
        return ok(self.paged(request, users))

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

    # ------------------------------------------------------------------ user attributes

    def attribute_json(self, a: st.Attribute) -> dict[str, Any]:
        def value(values: list[str]) -> dict[str, Any]:
            # 0.1471 holds one value; 1.219 lists them and mirrors the first in `value`
            return {"value": values[0] if values else "", "values": values}

        return {
            "uuid": a.uuid, "name": a.name, "organizationUuid": self.state.org_uuid,
            "createdAt": a.created_at, **({"description": a.description} if a.description else {}),
            "attributeDefault": a.defaults[0] if a.defaults else None,
            "attributeDefaults": a.defaults or None,
            "users": [{"userUuid": u, "email": self.state.users[u].email, **value(v)}
                      for u, v in a.users.items()],
            "groups": [{"groupUuid": g, **value(v)} for g, v in a.groups.items()],
        }  # fmt: skip

    def attribute_values(self, rows: list[dict[str, Any]], key: str) -> dict[str, list[str]]:
        out = {}
        for row in rows:
            if key == "userUuid" and row[key] not in self.state.users:
                # as the real 1.219 did: an unknown user is a database error
                raise LightdashError(500, "UnexpectedServerError", "foreign key violation")
            values = row.get("values") if self.modern and "values" in row else None
            out[row[key]] = list(values) if values is not None else [row["value"]]
        return out

    def fill_attribute(self, a: st.Attribute, body: dict[str, Any]) -> None:
        a.name, a.description = body["name"], body.get("description")
        many = body.get("attributeDefaults") if self.modern else None
        one = body.get("attributeDefault")
        a.defaults = list(many) if many else ([one] if isinstance(one, str) else list(one or []))
        a.users = self.attribute_values(body.get("users", []), "userUuid")
        a.groups = self.attribute_values(body.get("groups", []), "groupUuid")

    async def list_attributes(self, request: web.Request) -> web.Response:
        return ok([self.attribute_json(a) for a in self.state.attributes.values()])

    async def create_attribute(self, request: web.Request) -> web.Response:
        body = await request.json()
        if any(a.name == body["name"] for a in self.state.attributes.values()):
            raise LightdashError(500, "UnexpectedServerError", "duplicate key value")  # as 1.219
        a = st.Attribute(st.new_uuid(), body["name"], created_at=self.state.now())
        self.fill_attribute(a, body)
        self.state.attributes[a.uuid] = a
        # the real 1.219 answered 201 (its spec documents 200)
        return ok(self.attribute_json(a), status=201 if self.modern else 200)

    async def update_attribute(self, request: web.Request) -> web.Response:
        a = self.state.attributes.get(request.match_info["userAttributeUuid"])
        if a is None:
            raise not_found("User attribute")
        self.fill_attribute(a, await request.json())
        return ok(self.attribute_json(a))

    # ------------------------------------------------------------------ project access

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

    # ------------------------------------------------------------------ spaces

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

    # ------------------------------------------------------------------ deleting a space

    async def delete_space(self, request: web.Request) -> web.Response:
        """`DeleteSpace`: the real 1.219 answered 200 `{"status": "ok"}` (its spec says 204);
        0.1471's spec says 204 "Deleted" (with no body, as 204 has none). What the space held
        goes with it (`Project.delete_space`)."""
        project = self.project(request)
        project.delete_space(self.space(project, request).uuid)
        return ok() if self.modern else web.Response(status=204)

    # ------------------------------------------------------------------ charts, dashboards

    async def list_charts(self, request: web.Request) -> web.Response:
        project = self.project(request)
        # as the real 1.219 did (90 of the demo's 92): charts saved in a dashboard are left out
        listed = [c for c in project.charts.values() if c.dashboard is None]
        return ok([self.chart_summary(project, c) for c in listed])

    async def list_dashboards(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return ok([
            {**self.dashboard_summary(project, d),
             "tileTypes": sorted({t["type"] for t in d.content["tiles"]})}
            for d in project.dashboards.values()
        ])  # fmt: skip

    def code_page(
        self, request: web.Request, items: list[Any], ids_of: Callable[[Any], set[str]]
    ) -> tuple[list[Any], int, int, list[str]]:
        wanted = request.query.getall("ids", [])
        missing = [i for i in wanted if not any(i in ids_of(x) for x in items)]
        if wanted:
            items = [x for x in items if ids_of(x) & set(wanted)]
        offset = int(float(request.query.get("offset", 0)))
        if offset < 0:
            raise LightdashError(400, "ParameterError", f"offset must be >= 0, received {offset}")
        page = items[offset : offset + self.code_page_size]
        # 1.219 answers the next page's offset; 0.1471 the one asked (a guess the README lists)
        answered = min(offset + self.code_page_size, len(items)) if self.modern else offset
        return page, answered, len(items), missing

    def code_spaces(self, project: st.Project, items: list[Any]) -> list[dict[str, Any]]:
        spaces = {i.space: project.spaces[i.space] for i in items}
        return [{"contentType": "space", "spaceName": s.name, "slug": self.code_path(project, s)}
                for s in spaces.values()]  # fmt: skip

    async def charts_code(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return self.charts_page(request, project, "charts", project.charts.values(),
                                lambda c: self.chart_code(project, c))  # fmt: skip

    async def sql_charts_code(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return self.charts_page(request, project, "sqlCharts", project.sql_charts.values(),
                                lambda c: self.sql_chart_code(project, c))  # fmt: skip

    def charts_page(
        self, request: web.Request, project: st.Project, field: str, charts: Iterable[Any],
        code: Callable[[Any], dict[str, Any]],
    ) -> web.Response:  # fmt: skip
        """One page of a charts download (of either kind), by slug, with their spaces."""
        ordered = sorted(charts, key=lambda c: c.slug)
        page, offset, total, missing = self.code_page(request, ordered, lambda c: {c.uuid, c.slug})
        return ok({field: [code(c) for c in page], "offset": offset, "total": total,
                   "missingIds": missing, "spaces": self.code_spaces(project, page)})  # fmt: skip

    async def sql_chart(self, request: web.Request) -> web.Response:
        project = self.project(request)
        chart = project.sql_chart_by_slug(request.match_info["slug"])
        if chart is None:
            raise not_found("Saved sql")
        return ok(self.sql_chart_json(project, chart))

    async def upsert_sql_chart(self, request: web.Request) -> web.Response:
        project = self.project(request)
        slug = request.match_info["slug"]
        body = await request.json()
        space, created = self.space_for_upload(project, body)
        content = {k: body[k] for k in SQL_CHART_FIELDS if k in body}
        content.setdefault("description", None)
        chart = project.sql_chart_by_slug(slug)
        if chart:  # as Lightdash's CoderService.upsertSqlChart: an update, even when the same
            chart.content, chart.space = content, space.uuid
            chart.updated_at, action = self.state.now(), "update"
        else:
            chart = st.SqlChart(st.new_uuid(), slug, space.uuid, content, self.state.now(),
                                request[USER_KEY])  # fmt: skip
            project.sql_charts[chart.uuid] = chart
            action = "create"
        # and its answer: the change under `charts` (the spec says `sqlCharts`), four fields
        data = {"uuid": chart.uuid, "name": content["name"], "slug": slug,
                "spaceSlug": body["spaceSlug"]}  # fmt: skip
        return ok(self.changes(project, space, created, charts=[{"action": action, "data": data}]))

    async def dashboards_code(self, request: web.Request) -> web.Response:
        project = self.project(request)
        boards = sorted(project.dashboards.values(), key=lambda d: d.slug)
        page, offset, total, missing = self.code_page(request, boards, lambda d: {d.uuid, d.slug})
        return ok({"dashboards": [self.dashboard_code(project, d) for d in page],
                   "offset": offset, "total": total, "missingIds": missing,
                   "spaces": self.code_spaces(project, page)})  # fmt: skip

    def space_for_upload(self, project: st.Project, body: dict[str, Any]) -> tuple[st.Space, bool]:
        space = self.space_by_code_path(project, body["spaceSlug"])
        if space is not None:
            return space, False
        if body.get("skipSpaceCreate"):
            raise LightdashError(
                404, "NotFoundError", f"Space with slug {body['spaceSlug']} not found"
            )
        space = st.Space(st.new_uuid(), body["spaceSlug"], body["spaceSlug"], False)
        project.spaces[space.uuid] = space
        return space, True

    def changes(
        self, project: st.Project, space: st.Space | None, created_space: bool, **items: Any
    ) -> dict[str, Any]:
        spaces = []
        if space is not None and created_space:
            summary = self.space_summary(project, space)
            spaces = [{"action": "create", "data": summary}]
        return {"charts": [], "dashboards": [], "spaces": spaces, **items}

    async def upsert_chart(self, request: web.Request) -> web.Response:
        project = self.project(request)
        slug = request.match_info["slug"]
        body = await request.json()
        board = None
        if body.get("dashboardSlug"):
            board = project.dashboard_by_slug(body["dashboardSlug"])
            if board is None:
                raise not_found(f"Dashboard with slug {body['dashboardSlug']}")
        space, created = self.space_for_upload(project, body)
        content = {k: body[k] for k in CONTENT_FIELDS if k in body and body[k] is not None}
        chart = project.chart_by_slug(slug)
        old_uuid = chart.uuid if chart else ""
        where = (space.uuid, board.uuid if board else None)
        if chart and chart.content == content and (chart.space, chart.dashboard) == where:
            action = "no changes"
        elif chart:
            chart.content, chart.space, chart.dashboard = content, *where
            chart.updated_at, action = self.state.now(), "update"
        else:
            chart = st.Chart(st.new_uuid(), slug, space.uuid, where[1], content, self.state.now())
            project.charts[chart.uuid] = chart
            action = "create"
        data = {**self.chart_dao(project, chart), "oldUuid": old_uuid, "spaceSlug": space.slug}
        return ok(self.changes(project, space, created, charts=[{"action": action, "data": data}]))

    async def upsert_dashboard(self, request: web.Request) -> web.Response:
        project = self.project(request)
        slug = request.match_info["slug"]
        body = await request.json()
        tiles = [self.stored_tile(project, t) for t in body["tiles"]]
        space, created = self.space_for_upload(project, body)
        content = {
            **{k: body[k] for k in ("name", "description") if body.get(k) is not None},
            "tabs": body.get("tabs", []),
            "filters": _with_filter_ids(body["filters"]),
            "tiles": tiles,
        }
        board = project.dashboard_by_slug(slug)
        if board and _sans_ids(board.content) == _sans_ids(content) and board.space == space.uuid:
            action = "no changes"
        elif board:
            board.content, board.space = content, space.uuid
            board.updated_at, action = self.state.now(), "update"
        else:
            board = st.Dashboard(st.new_uuid(), slug, space.uuid, content, self.state.now())
            project.dashboards[board.uuid] = board
            action = "create"
        data = {**self.dashboard_dao(project, board), "spaceSlug": space.slug}
        item = {"action": action, "data": data}
        return ok(self.changes(project, space, created, dashboards=[item]))

    def stored_tile(self, project: st.Project, tile: dict[str, Any]) -> dict[str, Any]:
        """A tile as the dashboard keeps it: a chart tile's slug resolved to the chart."""
        props = dict(tile["properties"])
        if tile["type"] == "saved_chart":
            chart = project.chart_by_slug(props.pop("chartSlug", "") or "")
            if chart is None:
                raise LightdashError(
                    404,
                    "NotFoundError",
                    f"Chart with slug {tile['properties'].get('chartSlug')} not found",
                )
            props["savedChartUuid"] = chart.uuid
        return {**tile, "uuid": tile.get("uuid") or st.new_uuid(), "properties": props}

    # ------------------------------------------------------------------ schedulers

    async def scheduler_logs(self, request: web.Request) -> web.Response:
        project = self.project(request)
        schedulers = list(project.schedulers.values())
        logs = {
            "schedulers": [self.scheduler_json(s) for s in schedulers],
            "charts": [{"savedChartUuid": c.uuid, "name": c.content["name"]}
                       for c in project.charts.values()],
            "dashboards": [{"dashboardUuid": d.uuid, "name": d.content["name"]}
                           for d in project.dashboards.values()],
            "users": [{"userUuid": u.uuid, "firstName": u.first_name, "lastName": u.last_name}
                      for u in self.state.users.values()],
            "logs": [],
        }  # fmt: skip
        if not self.modern:
            return ok(logs)
        # 1.219 nests it under `data`, with a pagination of the logs
        pagination = {"page": 1, "pageSize": 10, "totalResults": 0, "totalPageCount": 0}
        return ok({"data": logs, "pagination": pagination})

    def scheduler_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        kept = SCHEDULER_FIELDS + (("plainTextEmail",) if self.modern else ())  # 1.219's
        fields = {k: body[k] for k in kept if k in body}
        fields.setdefault("enabled", True)
        fields.setdefault("includeLinks", True)
        return fields

    def targets(self, body: dict[str, Any]) -> list[dict[str, str]]:
        return [{**t, "uuid": st.new_uuid()} for t in body.get("targets", [])]

    async def create_chart_scheduler(self, request: web.Request) -> web.Response:
        project, chart = self.chart_anywhere(request.match_info["chartUuid"])
        body = await request.json()
        return ok(self.new_scheduler(request, project, body, savedChartUuid=chart.uuid,
                                     dashboardUuid=None))  # fmt: skip

    async def create_sql_chart_scheduler(self, request: web.Request) -> web.Response:
        project = self.project(request)
        chart = project.sql_charts.get(request.match_info["savedSqlUuid"])
        if chart is None:
            raise not_found("Saved sql")
        body = await request.json()
        made = self.new_scheduler(request, project, body, savedChartUuid=None, dashboardUuid=None,
                                  savedSqlUuid=chart.uuid)  # fmt: skip
        return ok(made, status=201)  # as the spec documents

    async def create_dashboard_scheduler(self, request: web.Request) -> web.Response:
        wanted = (
            request.match_info.get("dashboardUuidOrSlug") or request.match_info["dashboardUuid"]
        )
        project, board = self.dashboard_anywhere(wanted)
        body = await request.json()
        return ok(self.new_scheduler(request, project, body, savedChartUuid=None,
                                     dashboardUuid=board.uuid))  # fmt: skip

    def new_scheduler(
        self, request: web.Request, project: st.Project, body: dict[str, Any], **resource: Any
    ) -> dict[str, Any]:
        stamp = self.state.now()
        fields = {**self.scheduler_fields(body), **resource, "createdBy": request[USER_KEY],
                  "createdAt": stamp, "updatedAt": stamp}  # fmt: skip
        slug = body.get("slug") if self.modern else None
        if slug and any(s.slug == slug for s in project.schedulers.values()):
            # as the real 1.219 did: a duplicate custom slug is a database error
            raise LightdashError(
                500, "UnexpectedServerError", "duplicate key value violates unique constraint"
            )
        scheduler = st.Scheduler(
            st.new_uuid(),
            fields,
            self.targets(body),
            slug or project.scheduler_slug(fields["name"]),
        )
        project.schedulers[scheduler.uuid] = scheduler
        return self.scheduler_json(scheduler)

    async def update_scheduler(self, request: web.Request) -> web.Response:
        _, scheduler = self.scheduler(request)
        body = await request.json()
        if not isinstance(body, dict):
            raise LightdashError(400, "ParameterError", "Scheduler body must be an object")
        kept = ("savedChartUuid", "dashboardUuid", "savedSqlUuid", "createdBy", "createdAt")
        keep: dict[str, Any] = {k: scheduler.fields[k] for k in kept if k in scheduler.fields}
        scheduler.fields = {**self.scheduler_fields(body), **keep, "updatedAt": self.state.now()}
        scheduler.targets = self.targets(body)
        return ok(self.scheduler_json(scheduler), status=201)  # as the spec documents

    # ------------------------------------------------------------------ project validation

    async def validate(self, request: web.Request) -> web.Response:
        """The validation runs at once; its job reports `started` for `validation_polls`
        status reads, then `completed`."""
        project = self.project(request)
        body = await request.json()
        targets = [t for t in body.get("validationTargets") or TARGETS if t in TARGETS]
        project.validation = self.validator.run(project, targets)
        job = st.new_uuid()
        self.state.jobs[job] = self.validation_polls
        return ok({"jobId": job})

    async def validation_job(self, request: web.Request) -> web.Response:
        job = request.match_info["jobId"]
        if job not in self.state.jobs:
            raise not_found("Job")
        status = "started" if self.state.jobs[job] > 0 else "completed"
        self.state.jobs[job] -= 1
        return ok({"status": status, "details": {}})

    async def validation_results(self, request: web.Request) -> web.Response:
        """The project's latest validation (a `jobId` is not read: Lightdash keeps a job's
        own results only for its CLI's runs)."""
        return ok(self.project(request).validation)

    # ------------------------------------------------------------------ routing

    def routes(self) -> list[Route]:
        p = "/api/v1/projects/{projectUuid}"
        s = p + "/spaces/{spaceUuid}"
        modern = [
            Route("GET", s + "/access", self.space_access),
            Route("GET", p + "/code/charts", self.charts_code),
            Route("GET", p + "/code/dashboards", self.dashboards_code),
            Route("POST", p + "/code/charts/{slug}", self.upsert_chart),
            Route("POST", p + "/code/dashboards/{slug}", self.upsert_dashboard),
            Route("POST", MODERN_DASHBOARD_SCHEDULERS, self.create_dashboard_scheduler),
            Route("GET", p + "/code/sqlCharts", self.sql_charts_code),
            Route("POST", p + "/code/sqlCharts/{slug}", self.upsert_sql_chart),
            Route("GET", p + "/sqlRunner/saved/slug/{slug}", self.sql_chart),
            Route("POST", SQL_CHART_SCHEDULERS, self.create_sql_chart_scheduler),
        ] if self.modern else [
            Route("POST", UNOFFICIAL_SCHEDULER_ROUTES[1], self.create_dashboard_scheduler),
        ]  # fmt: skip
        validation = [
            Route("POST", p + "/validate", self.validate),
            Route("GET", p + "/validate", self.validation_results),
            Route("GET", "/api/v1/schedulers/job/{jobId}/status", self.validation_job),
        ]
        return [
            *modern,
            *validation,
            Route("GET", "/api/v1/health", self.health),
            Route("GET", "/api/v1/user", self.me),
            Route("GET", "/api/v1/org/attributes", self.list_attributes),
            Route("POST", "/api/v1/org/attributes", self.create_attribute),
            Route("PUT", "/api/v1/org/attributes/{userAttributeUuid}", self.update_attribute),
            Route("GET", "/api/v1/org/projects", self.org_projects),
            Route("GET", "/api/v1/org/users", self.org_users),
            Route("GET", "/api/v1/org/groups", self.org_groups),
            Route("POST", "/api/v1/org/groups", self.create_group),
            Route("GET", "/api/v1/groups/{groupUuid}/members", self.group_members),
            Route("PUT", "/api/v1/groups/{groupUuid}/members/{userUuid}", self.add_member),
            Route("POST", "/api/v1/groups/{groupUuid}/projects/{projectUuid}", self.grant_group_access),
            Route("PATCH", "/api/v1/groups/{groupUuid}/projects/{projectUuid}", self.grant_group_access),
            Route("GET", p, self.get_project),
            Route("PATCH", p + "/schedulerSettings", self.scheduler_settings),
            Route("GET", p + "/access", self.project_access),
            Route("POST", p + "/access", self.grant_project_access),
            Route("PATCH", p + "/access/{userUuid}", self.update_project_access),
            Route("GET", p + "/groupAccesses", self.group_accesses),
            Route("GET", p + "/spaces", self.list_spaces),
            Route("POST", p + "/spaces", self.create_space),
            Route("GET", s, self.get_space),
            Route("PATCH", s, self.update_space),
            Route("DELETE", s, self.delete_space),
            Route("POST", s + "/share", self.share_space),
            Route("DELETE", s + "/share/{userUuid}", self.unshare_space),
            Route("POST", s + "/group/share", self.share_space_group),
            Route("DELETE", s + "/group/share/{groupUuid}", self.unshare_space_group),
            Route("GET", p + "/charts", self.list_charts),
            Route("GET", p + "/dashboards", self.list_dashboards),
            Route("GET", p + "/charts/code", self.charts_code),
            Route("GET", p + "/dashboards/code", self.dashboards_code),
            Route("POST", p + "/charts/{slug}/code", self.upsert_chart),
            Route("POST", p + "/dashboards/{slug}/code", self.upsert_dashboard),
            Route("GET", "/api/v1/schedulers/{projectUuid}/logs", self.scheduler_logs),
            Route("PATCH", "/api/v1/schedulers/{schedulerUuid}", self.update_scheduler),
            Route("POST", UNOFFICIAL_SCHEDULER_ROUTES[0], self.create_chart_scheduler),
        ]  # fmt: skip


def _with_filter_ids(filters: dict[str, Any]) -> dict[str, Any]:
    """1.219's dashboard as code leaves filter ids out; the dashboard gives each one."""
    return {
        k: [{"id": st.new_uuid(), **f} for f in v] if isinstance(v, list) else v
        for k, v in filters.items()
    }


def _sans_ids(content: dict[str, Any]) -> Any:
    """A dashboard's content less the ids it makes for tiles and filters: what an upload of
    the same code compares equal on ("no changes")."""
    tiles = [{k: v for k, v in t.items() if k != "uuid"} for t in content.get("tiles", [])]
    filters = {
        k: [{x: y for x, y in f.items() if x != "id"} for f in v] if isinstance(v, list) else v
        for k, v in content.get("filters", {}).items()
    }
    return {**content, "tiles": tiles, "filters": filters}
