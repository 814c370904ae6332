"""An in-process SIGKILL: a restore dies between two requests, its ledger as it was."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Request = tuple[str, str, Any]  # method, route, JSON body
Boundary = Callable[[str, str, Any], bool]  # (method, route template, JSON body) -> kill here


class Killed(BaseException):
    """The restore died between two requests (BaseException: no retry or handler takes it)."""


def kill_after(clients: Sequence[Any], boundary: Boundary) -> list[Request]:
    """Once the first request `boundary` names is answered (accepted), it and every later
    request raise Killed: the run dies there, its ledger as it was. Answers which requests
    were killed that way (the first one)."""
    killed: list[Request] = []
    for client in clients:
        send = client.transport.send

        async def dying(m: str, route: str, *a: Any, _send: Any = send, **kw: Any) -> Any:
            if killed:
                raise Killed
            reply = await _send(m, route, *a, **kw)
            if reply.status < 300 and boundary(m, route, kw.get("json_body") or {}):
                killed.append((m, route, kw.get("json_body")))
                raise Killed
            return reply

        client.transport.send = dying
    return killed
