"""Checks every request the fake receives, and every response it sends, against openapi.json.

The spec (a verbatim copy of Omni's, shipped in this package) fails strict validation on
seven string query parameters whose defaults are numbers (`cursor`, `count`, `startIndex`);
those defaults are turned into strings in memory at load time. Parameters typed as a list
that includes "null" (`pageSize` of folders, `force`, `includeChecksums`) lose the "null" in
memory too: a query parameter is present or absent, never null, and openapi-core reads such
a type list as an array. Last, schedule recipient bodies type `userGroupIds` as UUIDs while
the same spec names groups by miniUuid everywhere a group id is defined (SCIM `id`, model
roles); no endpoint exposes any other group id, so the `uuid` format is dropped there
(DIGEST G5). The create-schedule body's `recipients` is typed as `[{email}]` while its own
description says Slack destinations put a channel id string or user ids (a string or an
array) there: the schema gets those two shapes as alternatives. The file itself is never
edited.

Routes only the older spec has are checked too: the YAML alias against the official YAML
operation, `update-model` and the PUT `move` against their seed schemas written out below.
Error statuses the spec does not document (429, 5xx, and most 4xx bodies) must have Omni's
error shape `{detail, status}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openapi_core import OpenAPI

from omnimigrate.fakes.conformance import Conformance, Exchange, spec_dict, spec_openapi
from omnimigrate.fakes.openapi_check import json_or_none, schema_problem

ERROR_SHAPE = {
    "type": "object",
    "required": ["detail", "status"],
    "properties": {"detail": {"type": "string"}, "status": {"type": "integer"}},
}
SEED_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("put", "/api/unstable/documents/{identifier}/update-model"): {
        "type": "object",
        "required": ["newModelId"],
        "properties": {"newModelId": {"type": "string", "format": "uuid"}},
    },
    ("put", "/api/v1/documents/{identifier}/move"): {
        "type": "object",
        "required": ["folderPath"],
        "properties": {
            "folderPath": {"type": ["string", "null"]},
            "scope": {"enum": ["restricted", "organization"]},
        },
    },
}
SEED_ALIASES = {"/api/unstable/models/": "/api/v1/models/"}


def _patch_numeric_defaults(node: Any) -> None:
    if isinstance(node, dict):
        default = node.get("default")
        if (
            node.get("type") == "string"
            and isinstance(default, int)
            and not isinstance(default, bool)
        ):
            node["default"] = str(default)
        for value in node.values():
            _patch_numeric_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _patch_numeric_defaults(value)


def _patch_nullable_parameters(spec: dict[str, Any]) -> None:
    for operations in spec["paths"].values():
        for operation in operations.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = param.get("schema", {})
                if isinstance(schema.get("type"), list):
                    schema["type"] = next(t for t in schema["type"] if t != "null")


def _patch_group_id_format(spec: dict[str, Any]) -> None:
    for name in ("SchedulesAddRecipientsBody", "SchedulesRemoveRecipientsBody"):
        spec["components"]["schemas"][name]["properties"]["userGroupIds"]["items"].pop(
            "format", None
        )


def _patch_slack_recipients(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/api/v1/schedules"]["post"]["requestBody"]["content"]
    recipients = body["application/json"]["schema"]["properties"]["recipients"]
    email_list = {"type": "array", "items": recipients.pop("items")}
    recipients.pop("type")
    recipients["anyOf"] = [
        email_list,
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}},
    ]


PATCHES = (
    _patch_numeric_defaults,
    _patch_nullable_parameters,
    _patch_group_id_format,
    _patch_slack_recipients,
)


def load_spec_dict() -> dict[str, Any]:
    return spec_dict("omnimigrate.platforms.omni.fake", "openapi.json", PATCHES)


def load_openapi() -> tuple[OpenAPI, dict[str, Any]]:
    return spec_openapi("omnimigrate.platforms.omni.fake", "openapi.json", PATCHES)


@dataclass(frozen=True)
class OmniExchange(Exchange):
    """The older spec's YAML alias is checked as the official YAML operation."""

    @property
    def spec_path(self) -> str:
        return _unalias(self.path)

    @property
    def spec_route(self) -> str:
        return _unalias(self.route)


SeedSchema = Callable[[str, str], dict[str, Any] | None]


class OmniConformance(Conformance):
    """`seed_schema`: the older spec's shape an operation's response follows instead of the
    spec's (strict.py), by method and route."""

    def __init__(self, seed_schema: SeedSchema = lambda method, route: None) -> None:
        super().__init__(load_openapi())
        self.seed_schema = seed_schema

    def request_problem(self, ex: Exchange, body: bytes | None, ctype: str) -> str | None:
        seed_body = SEED_BODIES.get((ex.method.lower(), ex.route))
        if seed_body is not None:
            return schema_problem(seed_body, json_or_none(body))
        return super().request_problem(ex, body, ctype)

    def response_problem(
        self, ex: Exchange, status: int, data: bytes, ctype: str, headers: Any
    ) -> str | None:
        seed_schema = self.seed_schema(ex.method.lower(), ex.spec_route)
        seed_body = SEED_BODIES.get((ex.method.lower(), ex.route))
        if seed_schema is not None and status < 300:
            return schema_problem(seed_schema, json_or_none(data))
        if seed_body is not None or (status >= 400 and not self._documents_error_body(ex, status)):
            if status == 429 and "Retry-After" not in headers:
                return "429 without a Retry-After header"
            return None if status < 400 else schema_problem(ERROR_SHAPE, json_or_none(data))
        return super().response_problem(ex, status, data, ctype, headers)

    def _documents_error_body(self, ex: Exchange, status: int) -> bool:
        op = self.spec["paths"].get(ex.spec_route, {}).get(ex.method.lower(), {})
        return "content" in op.get("responses", {}).get(str(status), {})


def _unalias(path: str) -> str:
    """The older spec's YAML alias is checked as the official YAML operation."""
    for old, new in SEED_ALIASES.items():
        if path.startswith(old):
            return new + path[len(old) :]
    return path
