"""The fake's project validator, modelled on Lightdash's `ValidationService` as the spec's
`ValidationResponse` shapes describe it (`POST/GET /api/v1/projects/{p}/validate`, the job's
`GET /api/v1/schedulers/job/{jobId}/status`).

A chart is broken where its query names a field no explore of the project has: each of its
`metricQuery` dimensions (not a dimension), metrics (not a metric; its own custom metrics
aside), filter rules and sorts (neither; table calculations and custom metrics aside). A
dashboard is broken where a filter targets such a field, and once per chart tile whose chart
is broken. The README lists what is guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from omnimigrate.platforms.lightdash.fake import state as st

TARGETS = ("charts", "dashboards")  # what is validated; tables (explore errors) are not modelled


def filter_fields(group: Any) -> Iterator[str]:
    """The `target.fieldId` of every rule in a (nested) filter group."""
    if isinstance(group, dict):
        target = group.get("target")
        if isinstance(target, dict) and "fieldId" in target:
            yield str(target["fieldId"])
        for key in ("and", "or", "dimensions", "metrics"):
            yield from filter_fields(group.get(key))
    elif isinstance(group, list):
        for item in group:
            yield from filter_fields(item)


def chart_errors(chart: st.Chart, dims: set[str], metrics: set[str]) -> list[tuple[str, str]]:
    """(errorType, fieldId) for each field the chart's query names that no explore has."""
    query = chart.content.get("metricQuery") or {}
    custom = {m.get("name") for m in query.get("additionalMetrics") or []} | {
        f"{m.get('table')}_{m.get('name')}" for m in query.get("additionalMetrics") or []
    }
    calculations = {c.get("name") for c in query.get("tableCalculations") or []}
    every = dims | metrics
    errors = [("dimension", f) for f in query.get("dimensions") or [] if f not in dims]
    errors += [("metric", f) for f in query.get("metrics") or [] if f not in custom | metrics]
    errors += [("filter", f) for f in filter_fields(query.get("filters")) if f not in every]
    errors += [
        ("sorting", s["fieldId"])
        for s in query.get("sorts") or []
        if s.get("fieldId") not in every | calculations | custom
    ]
    return errors


ERROR_TEXT = {
    "dimension": "Dimension error: the field '{}' no longer exists",
    "metric": "Metric error: the field '{}' no longer exists",
    "filter": "Filter error: the field '{}' no longer exists",
    "sorting": "Sorting error: the field '{}' no longer exists",
}


class Validator:
    """One fake's validator: the rows of a validation of a project, as its release shapes
    them (`modern`: 1.219's `validationUuid` and `dashboardSlug`)."""

    def __init__(self, state: st.LightdashState, modern: bool) -> None:
        self.state, self.modern = state, modern

    def row(self, project: st.Project, **fields: Any) -> dict[str, Any]:
        self.state.validations += 1
        number = self.state.validations
        row = {"projectUuid": project.uuid, "createdAt": self.state.now(),
               "validationId": number, **fields}  # fmt: skip
        if self.modern:  # 1.219: a uuid per row (the number is deprecated)
            row["validationUuid"] = f"00000000-0000-4000-8000-{number:012d}"
        return row

    def run(self, project: st.Project, targets: list[str]) -> list[dict[str, Any]]:
        dims = {f for e in project.explores.values() for f in e.dimensions}
        metrics = {f for e in project.explores.values() for f in e.metrics}
        rows, broken = [], {}
        for chart in project.charts.values():
            errors = chart_errors(chart, dims, metrics)
            if errors:
                broken[chart.uuid] = chart.content["name"]
            if "charts" not in targets:
                continue
            name = chart.content["name"]
            rows += [
                self.row(project, source="chart", chartUuid=chart.uuid, name=name,
                         chartName=name, spaceUuid=chart.space, errorType=kind, fieldName=field,
                         error=ERROR_TEXT[kind].format(field), chartViews=0,
                         lastUpdatedAt=chart.updated_at)
                for kind, field in errors
            ]  # fmt: skip
        if "dashboards" in targets:
            for board in project.dashboards.values():
                rows += self.dashboard_rows(project, board, dims | metrics, broken)
        return rows

    def dashboard_rows(
        self, project: st.Project, board: st.Dashboard, fields: set[str], broken: dict[str, str]
    ) -> list[dict[str, Any]]:
        common = {"source": "dashboard", "dashboardUuid": board.uuid,
                  "name": board.content["name"], "spaceUuid": board.space, "dashboardViews": 0,
                  "lastUpdatedAt": board.updated_at}  # fmt: skip
        if self.modern:
            common["dashboardSlug"] = board.slug
        filters = board.content.get("filters") or {}
        targeted = [
            *filter_fields(filters.get("dimensions")),
            *filter_fields(filters.get("metrics")),
        ]
        rows = [
            self.row(project, **common, errorType="filter", fieldName=f,
                     error=ERROR_TEXT["filter"].format(f))
            for f in targeted if f not in fields
        ]  # fmt: skip
        for tile in board.content["tiles"]:
            chart = (
                tile["properties"].get("savedChartUuid") if tile["type"] == "saved_chart" else None
            )
            if chart in broken:
                rows.append(self.row(project, **common, errorType="chart", chartName=broken[chart],
                                     error=f"The chart '{broken[chart]}' is broken on this dashboard."))  # fmt: skip
        return rows
