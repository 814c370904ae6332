"""Model roles given directly to a user or a group, on a model or on a whole connection.

Only direct roles are carried: one inherited through a group, the organization or the base
role is not frozen into an explicit grant (DIGEST G9). Restored last: a role names a model
and a user or group, which exist by then.

A role the target gives a principal on a model (or connection) the snapshot gives it none
on is an extra: Omni's API has no way to remove a model role (only to assign one), so restore
leaves it, and plan and verify both name it, in the same words, as its own category.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.handler import JobTemplate
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.omni.handler import ActionKind, Handler
from omnimigrate.platforms.omni.handlers import identities, models
from omnimigrate.platforms.omni.handlers.identities import (
    identity_deps,
    missing_reason,
    principal_ok,
)
from omnimigrate.platforms.omni.handlers.models import target_model
from omnimigrate.platforms.omni.principals import Principal

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
    from omnimigrate.platforms.omni.verifying import VerifyContext

ENTRY_TYPES = {"user": "user_model_roles", "group": "group_model_roles"}
# where a role comes from, as the official spec (`USER`, `GROUP`) and the older one
# (`User Role`, `Group Role`) name a direct one (DIGEST §4)
DIRECT = {"user": ("USER", "User Role"), "group": ("GROUP", "Group Role")}
EXTRA = "on the target only: restore leaves it (Omni's API cannot remove a model role)"


def is_direct(kind: str, origin: dict[str, Any] | None) -> bool:
    """A role given to this principal itself, not inherited; a group's only at depth 0."""
    origin = origin or {}
    return origin.get("type") in DIRECT[kind] and not origin.get("depth")


def scope_of(model: str | None, connection: str | None) -> str:
    return model or f"connection {connection}"


def principal_key(kind: str, key: str) -> str:
    return f"{kind}:{key}"


class SourceRole(BaseModel, frozen=True):
    principal: Principal
    model: str | None  # model key
    connection: str | None  # connection name, for connection-wide roles
    role: str


async def read_user_roles(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    async def roles() -> dict[str, Any]:
        return (await client.user_model_roles(args["id"])).dump()

    return await ctx.refusable(ENTRY_TYPES["user"], args, roles)


async def read_group_roles(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    async def roles() -> dict[str, Any]:
        return (await client.group_model_roles(args["id"])).dump()

    return await ctx.refusable(ENTRY_TYPES["group"], args, roles)


def load(r: SnapshotReader, view: View) -> None:
    for kind, type_ in ENTRY_TYPES.items():
        for o in r.entries(type_):
            for a in (r.blob(o) or {}).get("results", []):
                if not is_direct(kind, a.get("from")):
                    continue  # inherited through a group, the org or the base role
                view.roles.append(SourceRole(
                    principal=Principal(kind=kind, key=o.key),
                    model=r.model(a.get("modelId")),
                    connection=r.connection(a.get("connectionId")),
                    role=a["roleName"],
                ))  # fmt: skip


def read_target_for(inv: Target, view: View) -> list[Callable[[OmniClient], Awaitable[None]]]:
    """The direct roles the target gives each principal the snapshot gives roles to."""
    wanted = sorted({(r.principal.kind, r.principal.key) for r in view.roles})
    on_target = part(inv, models.Target)
    model_keys = {m.id: m.key for m in on_target.models.values()}
    connections = {v: k for k, v in on_target.connections.items()}

    def reader(kind: str, key: str, pid: str) -> Callable[[OmniClient], Awaitable[None]]:
        async def read(client: OmniClient) -> None:
            get = client.user_model_roles if kind == "user" else client.group_model_roles
            result = await get(pid)
            inv.roles[principal_key(kind, key)] = sorted(
                (scope_of(model_keys.get(a.model_id or ""), connections.get(a.connection_id or "")),
                 a.role_name)
                for a in result.results
                if is_direct(kind, a.from_)
            )  # fmt: skip

        return read

    people = part(inv, identities.Target)
    ids = {"user": people.users, "group": people.groups}
    return [reader(kind, key, ids[kind][key]) for kind, key in wanted if key in ids[kind]]


def plan(ctx: PlanContext[View, Target]) -> None:
    if ctx.filtered:
        return
    wanted: dict[str, set[str]] = {}  # principal -> the target scopes the snapshot gives it
    for r in sorted(
        ctx.view.roles, key=lambda r: (r.principal.kind, r.principal.key, r.model or "", r.role)
    ):
        scope = scope_of(r.model, r.connection)
        model_id = (target_model(ctx, r.model) or (None,))[0] if r.model else None
        on_target = _target_scope(ctx, model_id, r.connection)
        wanted.setdefault(principal_key(r.principal.kind, r.principal.key), set()).add(on_target)
        action = Action(
            id=action_id("role", r.principal.kind, r.principal.key, scope, r.role),
            kind="role.assign", object=f"{r.principal.key} {r.role} on {scope}", op="create",
            params={"principal": r.principal.model_dump(), "role": r.role, "model": r.model,
                    "model_id": model_id, "connection": r.connection},
        )  # fmt: skip
        have = ctx.inv.roles.get(principal_key(r.principal.kind, r.principal.key), [])
        if not principal_ok(ctx, r.principal):
            ctx.mark(action, "blocked", missing_reason(r.principal))
        elif r.model and model_id is None:
            ctx.mark(action, "blocked", f"model {r.model} is not on the target")
        elif not r.model and (r.connection or "") not in part(ctx.inv, models.Target).connections:
            ctx.mark(action, "blocked", f"connection {r.connection} is not on the target")
        elif (on_target, r.role) in {tuple(x) for x in have}:
            ctx.mark(action, "skip", "exists on the target")
        else:
            ctx.decide(action, identity_deps(ctx, [r.principal]))
    for principal, have in sorted(ctx.inv.roles.items()):
        kind, _, key = principal.partition(":")
        for scope, role in have:
            if scope not in wanted.get(principal, set()):
                ctx.add(Action(id=action_id("role", kind, key, scope, role, "extra"), kind="role.extra",
                               object=f"{key} {role} on {scope}", op="extra", reason=EXTRA))  # fmt: skip


def _target_scope(
    ctx: PlanContext[View, Target], model_id: str | None, connection: str | None
) -> str:
    """The scope a role lands on, named as the target names it (a `--model-map` moves it)."""
    if model_id is None:
        return scope_of(None, connection)
    held = part(ctx.inv, models.Target).models
    return next((m.key for m in held.values() if m.id == model_id), model_id)


async def assign(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    kind, pid = ctx.ids.principal(Principal.model_validate(a.params["principal"]))
    do = c.assign_user_model_role if kind == "user" else c.assign_group_model_role
    connection_id = (
        None if a.params["model_id"] else ctx.ids.connections.get(a.params["connection"] or "")
    )
    await do(pid, a.params["role"], model_id=a.params["model_id"], connection_id=connection_id)
    await ctx.record(a, "done")


async def verify(ctx: VerifyContext[View, Target]) -> None:
    """Each principal's direct roles on the scopes the snapshot gives it roles on; a role on
    another scope is an extra, named as plan names it, and not a difference."""
    if not ctx.whole:
        return
    t = ctx.report("model roles")
    wanted: dict[tuple[str, str], dict[str, str]] = {}
    for r in ctx.view.roles:
        wanted.setdefault((r.principal.kind, r.principal.key), {})[
            scope_of(r.model, r.connection)
        ] = r.role
    for (kind, key), roles in sorted(wanted.items()):
        t.checked += 1
        people = part(ctx.inv, identities.Target)
        ids = people.users if kind == "user" else people.groups
        if key not in ids:
            t.missing(f"{kind} {key}")
            continue
        have = dict(ctx.inv.roles.get(principal_key(kind, key), []))
        t.extras += [f"{kind} {key}: {role} on {scope}: {EXTRA}"
                     for scope, role in sorted(have.items()) if scope not in roles]  # fmt: skip
        shared = {scope: role for scope, role in have.items() if scope in roles}
        if t.check(f"{kind} {key}", roles, shared, "model roles"):
            t.matching += 1


class View(BaseModel):
    """This type's part of the snapshot view (`registry.SnapshotView`)."""

    roles: list[SourceRole] = Field(default_factory=list)


class Target(BaseModel):
    """This type's part of the target inventory (`registry.TargetInventory`); `WRITTEN_BY`:
    the action-id kinds a restore writes each field's keys with."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"roles": "role"}

    # "user:EMAIL" / "group:NAME" -> its direct model roles, [scope, role] (read only for the
    # principals the snapshot has roles for)
    roles: dict[str, list[tuple[str, str]]] = Field(default_factory=dict)


HANDLER = Handler(
    name="roles",
    view=View,
    target=Target,
    ids=("role",),  # its action ids' kinds
    jobs={"user_model_roles": read_user_roles, "group_model_roles": read_group_roles},
    per_user=(JobTemplate("user_model_roles"),),
    per_group=(JobTemplate("group_model_roles"),),
    load=load,
    read_target_for=read_target_for,
    plan=plan,
    actions={"role.assign": ActionKind(assign)},
    verify=verify,
)
