"""Checking one HTTP exchange against an OpenAPI document (openapi-core) or a JSON schema
written out where the document says nothing: the parts every platform's fake shares."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import jsonschema
from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.datatypes import PathOperationServer
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.templating.responses.exceptions import ResponseNotFound


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


def parsed_openapi(spec: dict[str, Any]) -> OpenAPI:
    """The vendored spec, parsed without openapi-spec-validator's pass over it (5 s a process
    on these machines, for every fake and `fake serve`); a test validates each spec once."""
    config = Config(
        spec_validator_cls=None,  # type: ignore[arg-type]  # openapi-core's documented "skip", untyped
        path_finder_cls=_RememberingPathFinder,
    )
    return OpenAPI.from_dict(spec, config=config)


class _RememberingPathFinder(APICallPathFinder):
    """openapi-core's path finder, which parses a URL against every path template of the spec
    (4 ms a lookup on Omni's), remembering each URL's operation: a request's check and its
    response's check look up the same URL, and runs read the same URLs again."""

    def __init__(self, spec: SchemaPath, base_url: str | None = None) -> None:
        super().__init__(spec, base_url)
        self._found: dict[tuple[str, str], PathOperationServer] = {}

    def find(self, method: str, name: str) -> PathOperationServer:
        key = (method, name)
        if key not in self._found:
            if len(self._found) > 65_536:  # a long-lived `fake serve`: start again
                self._found.clear()
            self._found[key] = super().find(method, name)
        return self._found[key]


class SpecChecks:
    """openapi-core's request and response checks, each answer remembered.

    A check is a pure function of the exchange's parts, and runs repeat exchanges: a re-run or
    a verify reads what the restore just read. One check costs 10-40 ms of openapi-core's path
    finding and $ref resolution, the largest part of a fake's work per request."""

    def __init__(self, api: OpenAPI, remembered: int = 8192) -> None:
        self.api = api
        self._answers: OrderedDict[Hashable, str | None] = OrderedDict()
        self._remembered = remembered

    def request_problem(self, request: SpecRequest) -> str | None:
        key = ("request", _request_key(request), _digest(request.body), request.content_type)
        return self._remember(key, lambda: self._problem(self.api.validate_request, request))

    def response_problem(self, request: SpecRequest, response: SpecResponse) -> str | None:
        key = (
            "response", _request_key(request), response.status_code, _digest(response.data),
            response.content_type, tuple(response.headers.items()),
        )  # fmt: skip
        return self._remember(
            key, lambda: self._problem(self.api.validate_response, request, response)
        )

    @staticmethod
    def _problem(check: Callable[..., object], *args: object) -> str | None:
        try:
            check(*args)
        except ResponseNotFound:
            response = args[-1]
            assert isinstance(response, SpecResponse)
            return f"status {response.status_code} is not documented for this operation"
        except Exception as exc:  # openapi-core raises a family of errors
            return describe(exc)
        return None

    def _remember(self, key: Hashable, check: Callable[[], str | None]) -> str | None:
        if key in self._answers:
            self._answers.move_to_end(key)
            return self._answers[key]
        answer = self._answers[key] = check()
        if len(self._answers) > self._remembered:
            self._answers.popitem(last=False)
        return answer


def _request_key(request: SpecRequest) -> Hashable:
    params = request.parameters
    return (
        request.method, request.path,
        tuple(params.query.items()), tuple(params.header.items()),
    )  # fmt: skip


def _digest(body: bytes | None) -> bytes:
    """A body as a key: its hash, so the remembered answers do not hold the bodies."""
    return hashlib.blake2b(body or b"", digest_size=16).digest()
