"""Who is granted what, by natural key: users by email, groups by name. Shared by the object
types that carry grants (folders, documents, model roles, schedules)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from omnimigrate.engine.plan import Action


class Principal(BaseModel, frozen=True):
    kind: Literal["user", "group"]
    key: str  # a user's lowercased email or a group's name


class Grant(BaseModel, frozen=True):
    principal: Principal
    role: str
    access_boost: bool = False


GrantKey = tuple[
    str, str, str, bool
]  # (kind, natural key, role, access boost): what verify compares


def grant_keys(grants: list[Grant]) -> set[GrantKey]:
    return {(g.principal.kind, g.principal.key, g.role, g.access_boost) for g in grants}


def by_principal(grants: list[Grant]) -> list[Grant]:
    return sorted(grants, key=lambda g: (g.principal.kind, g.principal.key))


def permit_calls(action: Action) -> int:
    """Requests to apply a permissions action: one permit call per (role, access boost),
    since the API grants one role per call."""
    return len({(g["role"], g["access_boost"]) for g in action.params.get("grants", [])})
