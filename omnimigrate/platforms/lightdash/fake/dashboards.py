"""The fake Lightdash's dashboards: the project's list, and their content as code (a chart
tile names its chart by `chartSlug`, resolved on upload: NotFoundError when missing)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.as_code import AsCodeApi
from omnimigrate.platforms.lightdash.fake.base import PROJECT, LightdashError, Route, ok


class DashboardsApi(AsCodeApi):
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

    async def list_dashboards(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return ok([
            {**self.dashboard_summary(project, d),
             "tileTypes": sorted({t["type"] for t in d.content["tiles"]})}
            for d in project.dashboards.values()
        ])  # fmt: skip

    async def dashboards_code(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return self.code_download(request, project, "dashboards", project.dashboards.values(),
                                  lambda d: self.dashboard_code(project, d))  # fmt: skip

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

    def dashboard_routes(self) -> list[Route]:
        modern = [
            Route("GET", PROJECT + "/code/dashboards", self.dashboards_code),
            Route("POST", PROJECT + "/code/dashboards/{slug}", self.upsert_dashboard),
        ] if self.modern else []  # fmt: skip
        return [
            *modern,
            Route("GET", PROJECT + "/dashboards", self.list_dashboards),
            Route("GET", PROJECT + "/dashboards/code", self.dashboards_code),
            Route("POST", PROJECT + "/dashboards/{slug}/code", self.upsert_dashboard),
        ]


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
