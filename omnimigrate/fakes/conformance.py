"""The conformance check every fake runs: its platform's spec, loaded from the fake's package
and patched in memory where it fails strict validation (the file is never edited), checks
each exchange; violations are collected, not raised, so tests can assert them.

A platform's check says what its spec leaves out: routes it checks against a schema of its
own, error shapes, statuses its real server answers that the spec does not document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from openapi_core import OpenAPI

from omnimigrate.fakes.openapi_check import (
    SpecChecks,
    SpecRequest,
    SpecResponse,
    Violation,
    parsed_openapi,
)

Patch = Callable[[dict[str, Any]], None]  # changes a loaded spec in memory


def spec_dict(package: str, name: str, patches: tuple[Patch, ...] = ()) -> dict[str, Any]:
    """The spec file `name` shipped in `package`, patched."""
    spec = json.loads(resources.files(package).joinpath(name).read_text())
    for patch in patches:
        patch(spec)
    return spec


@cache
def spec_openapi(
    package: str, name: str, patches: tuple[Patch, ...] = ()
) -> tuple[OpenAPI, dict[str, Any]]:
    """The parsed spec and its dict. Parsing a spec of several hundred kB takes about a
    second: done once per process and spec."""
    spec = spec_dict(package, name, patches)
    return parsed_openapi(spec), spec


@dataclass(frozen=True)
class Exchange:
    """The parts of a request both checks need."""

    method: str
    path: str  # as requested
    route: str  # the route template it matched
    query: Any
    headers: Any

    @property
    def spec_path(self) -> str:
        """The path the spec names this request by (a platform serving aliases maps them)."""
        return self.path

    @property
    def spec_route(self) -> str:
        return self.route


class Conformance:
    """The spec's own checks of each exchange; a platform's subclass answers first where
    the spec says nothing, or not what the real server does."""

    def __init__(self, loaded: tuple[OpenAPI, dict[str, Any]]) -> None:
        api, self.spec = loaded
        self.checks = SpecChecks(api)
        self.violations: list[Violation] = []

    def check_request(self, ex: Exchange, body: bytes | None, ctype: str) -> str | None:
        """Returns a message naming what is wrong, or None when the request conforms."""
        problem = self.request_problem(ex, body, ctype)
        if problem:
            self.violations.append(Violation("request", ex.method, ex.path, problem))
        return problem

    def check_response(
        self, ex: Exchange, status: int, data: bytes, ctype: str, headers: Any
    ) -> None:
        problem = self.response_problem(ex, status, data, ctype, headers)
        if problem:
            self.violations.append(
                Violation("response", ex.method, ex.path, f"{status}: {problem}")
            )

    def request_problem(self, ex: Exchange, body: bytes | None, ctype: str) -> str | None:
        return self.checks.request_problem(
            SpecRequest(ex.method, ex.spec_path, ex.query, ex.headers, body, ctype)
        )

    def response_problem(
        self, ex: Exchange, status: int, data: bytes, ctype: str, headers: Any
    ) -> str | None:
        # openapi-core finds a response's operation by method and path and reads nothing
        # else of the request: without its query and headers, the answer is remembered once
        return self.checks.response_problem(
            SpecRequest(ex.method, ex.spec_path, {}, {}, None, ""),
            SpecResponse(status, data, ctype, headers),
        )
