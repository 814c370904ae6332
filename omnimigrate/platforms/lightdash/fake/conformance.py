"""Checks every request the fake Lightdash receives, and every response it sends, against
Lightdash's openapi.json (0.1471.0, a verbatim copy shipped in this package).

The file fails strict validation in four operations outside what omnimigrate uses (tags and
data-catalog categories declare `{projectUuid}` in their path but not among their
parameters); the parameter is added to them in memory, and the file is never edited.

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
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS30Validator

from omnimigrate.fakes.openapi_check import (
    SpecRequest,
    SpecResponse,
    Violation,
    describe,
    json_or_none,
    schema_problem,
)
from omnimigrate.platforms.lightdash.fake.api import UNOFFICIAL_SCHEDULER_ROUTES

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
            for name in ("projectUuid",):
                if "{" + name + "}" in route and name not in declared:
                    operation.setdefault("parameters", []).append(
                        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                    )


def load_spec_dict() -> dict[str, Any]:
    here = resources.files("omnimigrate.platforms.lightdash.fake")
    spec = json.loads(here.joinpath("openapi.json").read_text())
    _add_missing_path_parameters(spec)
    return spec


@cache
def load_openapi() -> tuple[OpenAPI, dict[str, Any]]:
    spec = load_spec_dict()
    return OpenAPI.from_dict(spec), spec


class Conformance:
    """Validates exchanges; collects violations instead of raising, so tests can assert."""

    def __init__(self) -> None:
        self.api, self.spec = load_openapi()
        self.violations: list[Violation] = []

    def check_request(
        self, method: str, path: str, route: str, query: Any, headers: Any, body: bytes | None
    ) -> str | None:
        if route in UNOFFICIAL_SCHEDULER_ROUTES:
            problem = schema_problem(SCHEDULER_BODY, json_or_none(body))
        else:
            try:
                self.api.validate_request(SpecRequest(method, path, query, headers, body, ""))
                problem = None
            except Exception as exc:  # openapi-core raises a family of errors
                problem = describe(exc)
        if problem:
            self.violations.append(Violation("request", method, path, problem))
        return problem

    def check_response(
        self, method: str, path: str, route: str, status: int, data: bytes, headers: Any
    ) -> None:
        problem: str | None = None
        if status >= 400:
            problem = schema_problem(ERROR_SHAPE, json_or_none(data))
        elif route in UNOFFICIAL_SCHEDULER_ROUTES:
            problem = self._scheduler_problem(json_or_none(data))
        else:
            request = SpecRequest(method, path, {}, {}, None, "")
            try:
                self.api.validate_response(
                    request, SpecResponse(status, data, "application/json", headers)
                )
            except ResponseNotFound:
                problem = f"status {status} is not documented for this operation"
            except Exception as exc:
                problem = describe(exc)
        if problem:
            self.violations.append(Violation("response", method, path, f"{status}: {problem}"))

    def _scheduler_problem(self, body: Any) -> str | None:
        """An unofficial route's answer, against the spec's scheduler response (OpenAPI 3.0
        schemas: `nullable` is theirs, not JSON Schema's)."""
        schema = {"$ref": "#/components/schemas/ApiSchedulerAndTargetsResponse",
                  "components": self.spec["components"]}  # fmt: skip
        errors = sorted(OAS30Validator(schema).iter_errors(body), key=str)
        return "; ".join(e.message for e in errors)[:600] or None
