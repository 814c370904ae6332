"""The fake Lightdash's charts: the project's list, and their content as code (a chart
saved in a dashboard names it by `dashboardSlug`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.as_code import AsCodeApi
from omnimigrate.platforms.lightdash.fake.base import PROJECT, Route, not_found, ok

CONTENT_FIELDS = ("name", "description", "tableName", "metricQuery", "chartConfig", "tableConfig")


class ChartsApi(AsCodeApi):
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

    async def list_charts(self, request: web.Request) -> web.Response:
        project = self.project(request)
        # as the real 1.219 did (90 of the demo's 92): charts saved in a dashboard are left out
        listed = [c for c in project.charts.values() if c.dashboard is None]
        return ok([self.chart_summary(project, c) for c in listed])

    async def charts_code(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return self.code_download(request, project, "charts", project.charts.values(),
                                  lambda c: self.chart_code(project, c))  # fmt: skip

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

    def chart_routes(self) -> list[Route]:
        modern = [
            Route("GET", PROJECT + "/code/charts", self.charts_code),
            Route("POST", PROJECT + "/code/charts/{slug}", self.upsert_chart),
        ] if self.modern else []  # fmt: skip
        return [
            *modern,
            Route("GET", PROJECT + "/charts", self.list_charts),
            Route("GET", PROJECT + "/charts/code", self.charts_code),
            Route("POST", PROJECT + "/charts/{slug}/code", self.upsert_chart),
        ]
