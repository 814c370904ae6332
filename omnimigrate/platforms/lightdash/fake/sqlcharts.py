"""The fake Lightdash's SQL charts (1.219 only): a saved SQL query and its visualisation,
read by slug and kept as code."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.as_code import AsCodeApi
from omnimigrate.platforms.lightdash.fake.base import PROJECT, USER_KEY, Route, not_found, ok

SQL_CHART_FIELDS = ("name", "description", "sql", "limit", "config", "chartKind")
SQL_CHART_UPSERT = PROJECT + "/code/sqlCharts/{slug}"


class SqlChartsApi(AsCodeApi):
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

    async def sql_charts_code(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return self.code_download(request, project, "sqlCharts", project.sql_charts.values(),
                                  lambda c: self.sql_chart_code(project, c))  # fmt: skip

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

    def sql_chart_routes(self) -> list[Route]:
        if not self.modern:
            return []
        return [
            Route("GET", PROJECT + "/code/sqlCharts", self.sql_charts_code),
            Route("POST", PROJECT + "/code/sqlCharts/{slug}", self.upsert_sql_chart),
            Route("GET", PROJECT + "/sqlRunner/saved/slug/{slug}", self.sql_chart),
        ]
