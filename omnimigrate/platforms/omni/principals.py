"""Who is granted what, by natural key: users by email, groups by name. Shared by the object
types that carry grants (folders, documents, model roles, schedules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from omnimigrate.engine.plan import Action
from omnimigrate.engine.protocol import share_diff


class Principal(BaseModel, frozen=True):
    kind: Literal["user", "group"]
    key: str  # a user's lowercased email or a group's name


class People(Protocol):
    """What the target inventory holds of its principals (the identities handler's part),
    as the contexts that may not import a handler read it: ids by email and by name."""

    @property
    def users(self) -> Mapping[str, str]: ...
    @property
    def email_only(self) -> Mapping[str, str]: ...
    @property
    def groups(self) -> Mapping[str, str]: ...


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
    """Requests to apply a permissions action: the read of the target's permits (none on an
    object this plan makes), then at most one permit call per (role, access boost), since
    the API grants one role per call."""
    read = 0 if action.have.get("fresh") else 1
    return read + len({(g["role"], g["access_boost"]) for g in action.params.get("grants", [])})


def permit_key(kind: str, target_id: str) -> str:
    """A principal by its target id, as a share diff keys it (users and groups apart)."""
    return f"{'user' if kind == 'user' else 'group'}:{target_id}"


def permit_role(role: str, access_boost: bool) -> str:
    """A permit's role with its access boost: what a share diff compares."""
    return f"{role}+boost" if access_boost else role


class PermitWrites(BaseModel):
    """What makes one object's direct permits the snapshot's: the grants to add and the
    grants whose role (or access boost) changes (the action's own, as planned: Omni adds
    with POST and updates with PATCH), and the target ids to revoke."""

    grants: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    users: list[str]
    groups: list[str]


class Resolver(Protocol):
    """What turns a principal into the target's (kind, id): the apply context's ids."""

    def principal(self, p: Principal) -> tuple[str, str]: ...


def permit_writes(ids: Resolver, action: Action, have: dict[str, str]) -> PermitWrites:
    """Only the permits that differ (`engine/protocol.py`, share_diff) between the target's
    (`have`, by permit_key) and the action's grants. Permits the snapshot lacks are revoked
    only where the plan says so (`have["remove"]`: the object is this restore's, or
    overwritten); another's object keeps them."""
    grants = {}
    for g in action.params["grants"]:
        kind, target_id = ids.principal(Principal.model_validate(g["principal"]))
        grants[permit_key(kind, target_id)] = g
    want = {k: permit_role(g["role"], g["access_boost"]) for k, g in grants.items()}
    diff = share_diff(have, want, remove=bool(action.have.get("remove")))
    revoked = [k.split(":", 1) for k in diff.revoke]
    return PermitWrites(
        grants=[grants[k] for k in diff.grant if k not in have],
        changes=[grants[k] for k in diff.grant if k in have],
        users=[t for kind, t in revoked if kind == "user"],
        groups=[t for kind, t in revoked if kind == "group"],
    )
