"""The fake Lightdash's SQL charts (1.219 only): a saved SQL query and its visualisation,
read by slug and kept as code."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.as_code import AsCodeApi
from omnimigrate.platforms.lightdash.fake.base import PROJECT, Route, not_found, ok

SQL_CHART_FIELDS = ("name", "description", "sql", "limit", "config", "chartKind")


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
            "createdBy": None,
            "lastUpdatedAt": chart.updated_at,
            "lastUpdatedBy": None,
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
            raise not_found("Saved sql chart")
        return ok(self.sql_chart_json(project, chart))

    async def upsert_sql_chart(self, request: web.Request) -> web.Response:
        project = self.project(request)
        slug = request.match_info["slug"]
        body = await request.json()
        space, created = self.space_for_upload(project, body)
        content = {k: body[k] for k in SQL_CHART_FIELDS if k in body}
        content.setdefault("description", None)
        chart = project.sql_chart_by_slug(slug)
        old_uuid = chart.uuid if chart else ""
        if chart and chart.content == content and chart.space == space.uuid:
            action = "no changes"
        elif chart:
            chart.content, chart.space = content, space.uuid
            chart.updated_at, action = self.state.now(), "update"
        else:
            chart = st.SqlChart(st.new_uuid(), slug, space.uuid, content, self.state.now())
            project.sql_charts[chart.uuid] = chart
            action = "create"
        data = {"uuid": chart.uuid, "oldUuid": old_uuid, "slug": slug, "name": content["name"],
                "description": content["description"], "projectUuid": project.uuid,
                "spaceSlug": space.slug, "spacePath": self.code_path(project, space)}  # fmt: skip
        item = {"action": action, "data": data}
        return ok(self.changes(project, space, created, sqlCharts=[item]))

    def sql_chart_routes(self) -> list[Route]:
        if not self.modern:
            return []
        return [
            Route("GET", PROJECT + "/code/sqlCharts", self.sql_charts_code),
            Route("POST", PROJECT + "/code/sqlCharts/{slug}", self.upsert_sql_chart),
            Route("GET", PROJECT + "/sqlRunner/saved/slug/{slug}", self.sql_chart),
        ]
