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

import json
from functools import cache
from importlib import resources
from typing import Any

from openapi_core import OpenAPI
from openapi_schema_validator import OAS30Validator

from omnimigrate.fakes.openapi_check import (
    SpecChecks,
    SpecRequest,
    SpecResponse,
    Violation,
    json_or_none,
    parsed_openapi,
    schema_problem,
)
from omnimigrate.platforms.lightdash.fake.schedulers import UNOFFICIAL_SCHEDULER_ROUTES

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
UNCHECKED = ("/api/v1/health",)  # served by every Lightdash, declared by neither spec


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


def load_spec_dict(generation: str = "0.1471") -> dict[str, Any]:
    here = resources.files("omnimigrate.platforms.lightdash.fake")
    spec = json.loads(here.joinpath(SPEC_FILES[generation]).read_text())
    _add_missing_path_parameters(spec)
    _unique_operation_ids(spec)
    if generation != "0.1471":
        spec["components"] = _nullable_all_of(spec["components"])
    return spec


@cache
def load_openapi(generation: str = "0.1471") -> tuple[OpenAPI, dict[str, Any]]:
    spec = load_spec_dict(generation)
    return parsed_openapi(spec), spec


class Conformance:
    """Validates exchanges; collects violations instead of raising, so tests can assert."""

    def __init__(self, generation: str = "0.1471") -> None:
        api, self.spec = load_openapi(generation)
        self.checks = SpecChecks(api)
        # 1.219 declares the scheduler creates; 0.1471 does not (SCHEDULER_BODY stands in)
        self.unofficial = UNOFFICIAL_SCHEDULER_ROUTES if generation == "0.1471" else ()
        # statuses the real 1.219 answered that its spec does not document
        self.real_status = (
            {("POST", "/api/v1/org/attributes", 201)} if generation != "0.1471" else set()
        )
        self.violations: list[Violation] = []

    def check_request(
        self, method: str, path: str, route: str, query: Any, headers: Any, body: bytes | None
    ) -> str | None:
        if route in UNCHECKED:
            return None
        if route in self.unofficial:
            problem = schema_problem(SCHEDULER_BODY, json_or_none(body))
        else:
            problem = self.checks.request_problem(
                SpecRequest(method, path, query, headers, body, "")
            )
        if problem:
            self.violations.append(Violation("request", method, path, problem))
        return problem

    def check_response(
        self, method: str, path: str, route: str, status: int, data: bytes, headers: Any
    ) -> None:
        problem: str | None = None
        if route in UNCHECKED:
            return
        if status == 204 and not data:
            # tsoa declares a JSON body for DeleteSpace's 204, which HTTP gives no content
            return
        if status >= 400:
            problem = schema_problem(ERROR_SHAPE, json_or_none(data))
        elif route in self.unofficial:
            problem = self._scheduler_problem(json_or_none(data))
        else:
            if (method, route, status) in self.real_status:
                status = 200  # what the real server answered where its spec says 200
            problem = self.checks.response_problem(
                SpecRequest(method, path, {}, {}, None, ""),
                SpecResponse(status, data, "application/json", headers),
            )
        if problem:
            self.violations.append(Violation("response", method, path, f"{status}: {problem}"))

    def _scheduler_problem(self, body: Any) -> str | None:
        """An unofficial route's answer, against the spec's scheduler response (OpenAPI 3.0
        schemas: `nullable` is theirs, not JSON Schema's)."""
        schema = {"$ref": "#/components/schemas/ApiSchedulerAndTargetsResponse",
                  "components": self.spec["components"]}  # fmt: skip
        errors = sorted(OAS30Validator(schema).iter_errors(body), key=str)
        return "; ".join(e.message for e in errors)[:600] or None
