"""Model roles given directly to a user or a group, on a model or on a whole connection.

Only direct roles are carried: one inherited through a group, the organization or the base
role is not frozen into an explicit grant (DIGEST G9). Restored last: a role names a model
and a user or group, which exist by then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.omni.action_ids import action_id
from omnimigrate.platforms.omni.handler import ActionKind, Handler, JobTemplate
from omnimigrate.platforms.omni.principals import Principal

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader, SnapshotView
    from omnimigrate.platforms.omni.verifying import VerifyContext

ENTRY_TYPES = {"user": "user_model_roles", "group": "group_model_roles"}


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


def load(r: SnapshotReader, view: SnapshotView) -> None:
    for kind, type_ in ENTRY_TYPES.items():
        for o in r.entries(type_):
            for a in (r.blob(o) or {}).get("results", []):
                if (a.get("from") or {}).get("type") != kind.upper():
                    continue  # inherited through a group, the org or the base role
                view.roles.append(SourceRole(
                    principal=Principal(kind=kind, key=o.key),  # type: ignore[arg-type]
                    model=r.model(a.get("modelId")),
                    connection=r.connection(a.get("connectionId")),
                    role=a["roleName"],
                ))  # fmt: skip


def plan(ctx: PlanContext) -> None:
    if ctx.filtered:
        return
    for r in sorted(
        ctx.src.roles, key=lambda r: (r.principal.kind, r.principal.key, r.model or "", r.role)
    ):
        scope = r.model or f"connection {r.connection}"
        model_id = (ctx.target_model(r.model) or (None,))[0] if r.model else None
        action = Action(
            id=action_id("role", r.principal.kind, r.principal.key, scope, r.role),
            kind="role.assign", object=f"{r.principal.key} {r.role} on {scope}", op="create",
            params={"principal": r.principal.model_dump(), "role": r.role, "model": r.model,
                    "model_id": model_id, "connection": r.connection},
        )  # fmt: skip
        if not ctx.principal_ok(r.principal):
            ctx.mark(action, "blocked", ctx.missing_reason(r.principal))
        elif r.model and model_id is None:
            ctx.mark(action, "blocked", f"model {r.model} is not on the target")
        elif not r.model and (r.connection or "") not in ctx.inv.connections:
            ctx.mark(action, "blocked", f"connection {r.connection} is not on the target")
        else:
            ctx.decide(action, ctx.identity_deps([r.principal]))


async def assign(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    kind, pid = ctx.ids.principal(Principal.model_validate(a.params["principal"]))
    do = c.assign_user_model_role if kind == "user" else c.assign_group_model_role
    connection_id = (
        None if a.params["model_id"] else ctx.ids.connections.get(a.params["connection"] or "")
    )
    await do(pid, a.params["role"], model_id=a.params["model_id"], connection_id=connection_id)
    await ctx.record(a, "done")


async def verify(ctx: VerifyContext) -> None:
    if not ctx.whole:
        return
    t = ctx.report("model roles")
    wanted: dict[tuple[str, str], set[tuple[str | None, str]]] = {}
    for r in ctx.src.roles:
        wanted.setdefault((r.principal.kind, r.principal.key), set()).add((r.model, r.role))

    async def one(principal: tuple[str, str], c: OmniClient) -> None:
        (kind, key), roles = principal, wanted[principal]
        t.checked += 1
        ids = ctx.inv.users if kind == "user" else ctx.inv.groups
        if key not in ids:
            return t.missing(f"{kind} {key}")
        read = c.user_model_roles if kind == "user" else c.group_model_roles
        result = await read(ids[key])
        have = {
            (ctx.names.models.get(a.model_id or "", a.model_id), a.role_name)
            for a in result.results
            if (a.from_ or {}).get("type") == kind.upper()
        }
        if t.check(f"{kind} {key}", roles, have, "model roles"):
            t.matching += 1

    await ctx.reads.each(sorted(wanted), one)


HANDLER = Handler(
    name="roles",
    jobs={"user_model_roles": read_user_roles, "group_model_roles": read_group_roles},
    per_user=(JobTemplate("user_model_roles"),),
    per_group=(JobTemplate("group_model_roles"),),
    load=load,
    plan=plan,
    actions={"role.assign": ActionKind(assign)},
    verify=verify,
)
