"""Checks every request the fake Lightdash receives, and every response it sends, against
Lightdash's spec of the release it plays: openapi.json (0.1471.0) or openapi-1.219.0.json
(1.219.0), verbatim copies shipped in this package.

Both files fail strict validation in a few operations outside what omnimigrate uses (tags
and data-catalog categories declare `{projectUuid}` in their path but not among their
parameters; 1.219's Slack image route `{nanoId}`); the parameter is added to them in memory,
a duplicate operation id is made unique, and 1.219's nullable references are read as tsoa
means them (`_nullable_all_of`); the files are never edited. `GET /api/v1/health`, in neither spec, is not checked.

The scheduler create routes Lightdash's web app uses are not in the spec: their bodies are
checked against `SCHEDULER_BODY`, written from Lightdash's `CreateSchedulerAndTargets` type
(a guess the README lists), and their answers against the spec's `SchedulerAndTargets`.
"""

from __future__ import annotations

from typing import Any

from openapi_core import OpenAPI
from openapi_schema_validator import OAS30Validator

from omnimigrate.fakes.conformance import Conformance, Exchange, Patch, spec_dict, spec_openapi
from omnimigrate.fakes.openapi_check import json_or_none, schema_problem
from omnimigrate.platforms.lightdash.fake.organization import HEALTH
from omnimigrate.platforms.lightdash.fake.schedulers import UNOFFICIAL_SCHEDULER_ROUTES
from omnimigrate.platforms.lightdash.fake.sqlcharts import SQL_CHART_UPSERT

_TARGET = {
    "anyOf": [
        {"type": "object", "required": ["channel"], "properties": {"channel": {"type": "string"}}},
        {"type": "object", "required": ["recipient"],
         "properties": {"recipient": {"type": "string"}}},
    ]
}  # fmt: skip
SCHEDULER_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["name", "format", "cron", "options", "targets"],
    "properties": {
        "name": {"type": "string"},
        "message": {"type": "string"},
        "format": {"enum": ["csv", "image", "gsheets"]},
        "cron": {"type": "string"},
        "timezone": {"type": "string"},
        "enabled": {"type": "boolean"},
        "includeLinks": {"type": "boolean"},
        "options": {"type": "object"},
        "thresholds": {"type": "array"},
        "notificationFrequency": {"enum": ["always", "once"]},
        "filters": {"type": "array"},
        "selectedTabs": {"type": "array", "items": {"type": "string"}},
        "customViewportWidth": {"type": "number"},
        "targets": {"type": "array", "items": _TARGET},
    },
}
# What the real 1.219 answers a SQL chart upload (CoderService.upsertSqlChart): its change
# under `charts`, four fields, where the spec declares a full PromotedChart (or `sqlCharts`)
_CHANGE = {"type": "object", "required": ["action", "data"],
           "properties": {"action": {"enum": ["create", "update"]},
                          "data": {"type": "object", "required": ["uuid", "name", "slug", "spaceSlug"]}}}  # fmt: skip
SQL_CHART_UPSERT_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["status", "results"],
    "properties": {
        "results": {"type": "object", "required": ["charts", "dashboards", "spaces"],
                    "properties": {"charts": {"type": "array", "items": _CHANGE, "maxItems": 1}}},
    },
}  # fmt: skip
ERROR_SHAPE = {
    "type": "object",
    "required": ["status", "error"],
    "properties": {
        "status": {"const": "error"},
        "error": {"type": "object", "required": ["name", "statusCode"]},
    },
}


def _add_missing_path_parameters(spec: dict[str, Any]) -> None:
    for route, operations in spec["paths"].items():
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            for name in ("projectUuid", "nanoId"):
                if "{" + name + "}" in route and name not in declared:
                    operation.setdefault("parameters", []).append(
                        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                    )


SPEC_FILES = {"0.1471": "openapi.json", "1.219": "openapi-1.219.0.json"}
UNCHECKED = (HEALTH,)  # served by every Lightdash, declared by neither spec


def _unique_operation_ids(spec: dict[str, Any]) -> None:
    """1.219 names a v1 and a v2 operation alike (`getSavedChartSchedulers`); the later one
    gets its method and path appended, in memory."""
    seen: set[str] = set()
    for route, operations in spec["paths"].items():
        for method, operation in operations.items():
            op_id = operation.get("operationId") if isinstance(operation, dict) else None
            if op_id in seen:
                operation["operationId"] = f"{op_id} {method} {route}"
            elif op_id:
                seen.add(op_id)


def _nullable_all_of(node: Any) -> Any:
    """tsoa writes a nullable reference as `{allOf: [ref], nullable: true}`, which strict
    OpenAPI 3.0 validation reads as "not nullable" inside the reference (221 times in 1.219):
    in memory it becomes `anyOf: [that, null]`, which is what tsoa means."""
    if isinstance(node, list):
        return [_nullable_all_of(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_all_of(v) for k, v in node.items()}
    if node.get("nullable") is True and "allOf" in node:
        rest = {k: v for k, v in node.items() if k not in ("nullable", "description")}
        return {"anyOf": [rest, {"nullable": True, "enum": [None]}]}
    return node


def _nullable_components(spec: dict[str, Any]) -> None:
    spec["components"] = _nullable_all_of(spec["components"])


def _patches(generation: str) -> tuple[Patch, ...]:
    both = (_add_missing_path_parameters, _unique_operation_ids)
    return both if generation == "0.1471" else (*both, _nullable_components)


PACKAGE = "omnimigrate.platforms.lightdash.fake"


def load_spec_dict(generation: str = "0.1471") -> dict[str, Any]:
    return spec_dict(PACKAGE, SPEC_FILES[generation], _patches(generation))


def load_openapi(generation: str = "0.1471") -> tuple[OpenAPI, dict[str, Any]]:
    return spec_openapi(PACKAGE, SPEC_FILES[generation], _patches(generation))


class LightdashConformance(Conformance):
    def __init__(self, generation: str = "0.1471") -> None:
        super().__init__(load_openapi(generation))
        # 1.219 declares the scheduler creates; 0.1471 does not (SCHEDULER_BODY stands in)
        self.unofficial = UNOFFICIAL_SCHEDULER_ROUTES if generation == "0.1471" else ()
        # statuses the real 1.219 answered that its spec does not document -> the documented one
        self.real_status = (
            {("POST", "/api/v1/org/attributes", 201): 200,
             ("DELETE", "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}", 200): 204}
            if generation != "0.1471" else {}
        )  # fmt: skip
        # answers the real 1.219 gives in another shape than its spec's: checked against ours
        self.real_shape = (
            {("POST", SQL_CHART_UPSERT): SQL_CHART_UPSERT_ANSWER} if generation != "0.1471" else {}
        )

    def request_problem(self, ex: Exchange, body: bytes | None, ctype: str) -> str | None:
        if ex.route in UNCHECKED:
            return None
        if ex.route in self.unofficial:
            return schema_problem(SCHEDULER_BODY, json_or_none(body))
        return super().request_problem(ex, body, "")  # read as JSON, whatever it says

    def response_problem(
        self, ex: Exchange, status: int, data: bytes, ctype: str, headers: Any
    ) -> str | None:
        if ex.route in UNCHECKED:
            return None
        if status == 204 and not data:
            # tsoa declares a JSON body for DeleteSpace's 204, which HTTP gives no content
            return None
        if status >= 400:
            return schema_problem(ERROR_SHAPE, json_or_none(data))
        if ex.route in self.unofficial:
            return self._scheduler_problem(json_or_none(data))
        if (ex.method, ex.route) in self.real_shape:
            return schema_problem(self.real_shape[ex.method, ex.route], json_or_none(data))
        # what the real server answered where its spec says another status
        status = self.real_status.get((ex.method, ex.route, status), status)
        return super().response_problem(ex, status, data, "application/json", headers)

    def _scheduler_problem(self, body: Any) -> str | None:
        """An unofficial route's answer, against the spec's scheduler response (OpenAPI 3.0
        schemas: `nullable` is theirs, not JSON Schema's)."""
        schema = {"$ref": "#/components/schemas/ApiSchedulerAndTargetsResponse",
                  "components": self.spec["components"]}  # fmt: skip
        errors = sorted(OAS30Validator(schema).iter_errors(body), key=str)
        return "; ".join(e.message for e in errors)[:600] or None
