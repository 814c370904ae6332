"""Checking one HTTP exchange against an OpenAPI document (openapi-core) or a JSON schema
written out where the document says nothing: the parts every platform's fake shares."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema
from openapi_core.datatypes import RequestParameters


@dataclass(frozen=True)
class Violation:
    direction: str  # "request" or "response"
    method: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.direction} {self.method.upper()} {self.path}: {self.message}"


class SpecRequest:
    """The request protocol openapi-core reads, over an already-read aiohttp request."""

    def __init__(
        self, method: str, path: str, query: Any, headers: Any, body: bytes | None, ctype: str
    ) -> None:
        self.host_url = "http://fake.instance"
        self.path = path
        self.method = method.lower()
        self.parameters = RequestParameters(query=query, header=headers, cookie={})
        self.body = body or None
        self.content_type = ctype or "application/json"


class SpecResponse:
    def __init__(self, status: int, data: bytes, ctype: str, headers: Any) -> None:
        self.status_code = status
        self.data = data
        self.content_type = ctype or "application/json"
        self.headers = headers


def json_or_none(data: bytes | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return "<not JSON>"


def schema_problem(schema: dict[str, Any], value: Any) -> str | None:
    errors = sorted(
        jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker()
        ).iter_errors(value),
        key=str,
    )
    return "; ".join(e.message for e in errors) or None


def describe(exc: BaseException) -> str:
    """openapi-core's error with the schema errors under it, in one line."""
    parts = [str(exc)]
    for inner in (
        exc.__cause__,
        *getattr(exc, "schema_errors", ()),
        *getattr(exc.__cause__, "schema_errors", ()),
    ):
        if inner is not None:
            parts.append(getattr(inner, "message", None) or str(inner))
    return " | ".join(dict.fromkeys(p for p in parts if p))[:600]
