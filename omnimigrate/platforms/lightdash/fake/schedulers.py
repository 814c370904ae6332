"""The fake Lightdash's schedulers, on a chart, a dashboard or (1.219) a SQL chart: the
project's scheduler logs (their only list), a create per what they are on, and an update.

0.1471's spec has no create route: the fake serves those Lightdash's web app uses
(`UNOFFICIAL_SCHEDULER_ROUTES`, checked against conformance.py's `SCHEDULER_BODY`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.base import (
    USER_KEY,
    ApiBase,
    LightdashError,
    Route,
    not_found,
    ok,
)

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


class SchedulersApi(ApiBase):
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

    def scheduler_routes(self) -> list[Route]:
        by_release = [
            Route("POST", MODERN_DASHBOARD_SCHEDULERS, self.create_dashboard_scheduler),
            Route("POST", SQL_CHART_SCHEDULERS, self.create_sql_chart_scheduler),
        ] if self.modern else [
            Route("POST", UNOFFICIAL_SCHEDULER_ROUTES[1], self.create_dashboard_scheduler),
        ]  # fmt: skip
        return [
            *by_release,
            Route("GET", "/api/v1/schedulers/{projectUuid}/logs", self.scheduler_logs),
            Route("PATCH", "/api/v1/schedulers/{schedulerUuid}", self.update_scheduler),
            Route("POST", UNOFFICIAL_SCHEDULER_ROUTES[0], self.create_chart_scheduler),
        ]
