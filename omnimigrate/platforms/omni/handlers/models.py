"""Connections (metadata only: the API returns no secrets) and models, by (connection name,
kind, name); a shared model's own YAML layer.

Backup keeps the `extension` layer, never `combined`, which has the schema model's views in
it and would freeze them into copies. Restore (`--models`) makes the target model's own
layer equal the snapshot's, file for file, before the documents whose queries use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.content import ContentCapture
from omnimigrate.engine.handler import JobTemplate
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.errors import ApiStatusError
from omnimigrate.http.retry import permanent
from omnimigrate.platforms.omni.handler import ActionKind, Handler
from omnimigrate.platforms.omni.handlers import content

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
    from omnimigrate.platforms.omni.verifying import VerifyContext

YAML_KINDS = ("SHARED", "SHARED_EXTENSION")  # the kinds whose YAML is their own
YAML_JOB = JobTemplate("model_yaml")


class SourceModel(BaseModel):
    key: str
    source_id: str | None = None
    kind: str | None = None
    connection: str | None = None
    files: dict[str, str] | None = None  # the model's own layer
    combined_only: bool = False  # an older backup kept only the combined YAML
    git_follower: bool = False


class TargetModel(BaseModel):
    id: str
    key: str  # connection name/kind/name
    kind: str | None = None


def yaml_action_id(key: str | None) -> str:
    return action_id("model", key or "", "yaml")


def yaml_file_name(key: str) -> str:
    """GET keys (`model.yaml`, `views/x.yaml`, `x.view.yaml`) to POST names (DIGEST §5)."""
    stem = key.removesuffix(".yaml")
    for folder, suffix in (("views/", ".view"), ("topics/", ".topic")):
        if stem.startswith(folder):
            return stem[len(folder) :] + suffix
    return stem


# ---------------------------------------------------------------------- backup


async def list_connections(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    """Connections and their models; each shared model's YAML is its own job."""
    connections = await client.list_connections()
    names = {c.id: c.name for c in connections}
    result = JobResult()
    for c in connections:
        result.entries.append(await ctx.entry("connection", c.name, c.dump(), source_id=c.id))
    async for model in client.list_models():
        key = content.model_key(
            names.get(model.connection_id or "", model.connection_id), model.model_kind, model.name
        )
        result.entries.append(
            await ctx.entry("model", key, model.dump(), source_id=model.id, updated_at=model.updated_at)
        )  # fmt: skip
        if model.model_kind in YAML_KINDS:
            result.children.append(YAML_JOB.job(model.id, key))
        if model.model_kind in content.VALIDATED_KINDS:
            result.children.append(content.VALIDATOR_JOB.job(model.id, key))
    return result


async def read_yaml(ctx: BackupContext, client: OmniClient, args: Mapping[str, str]) -> JobResult:
    lost: list[str] = []

    async def files() -> dict[str, Any]:
        """The model's own layer (`extension`): `combined`, the default, has the schema
        model's views in it too, which a restore would freeze into copies."""
        yaml = await client.get_model_yaml(args["id"], mode="extension")
        try:
            git = await client.model_git(args["id"])
        except ApiStatusError as err:
            if not permanent(err):
                raise
            lost.append(f"git settings of {args['key']} ({err.status}): {err.detail}")
            git = None
        return {"yaml": yaml.dump(), "git": git.dump() if git else None, "layer": "extension"}

    result = await ctx.refusable("model_yaml", args, files)
    result.lost += lost
    return result


# ---------------------------------------------------------------------- snapshot view


def load(r: SnapshotReader, view: View) -> None:
    view.connections = sorted(o.key for o in r.entries("connection"))
    for o in r.entries("model"):
        raw = r.blob(o) or {}
        yaml = r.blob_of("model_yaml", o.key) or {}
        view.models[o.key] = SourceModel(
            key=o.key,
            source_id=o.source_id,
            kind=raw.get("modelKind"),
            connection=r.connection(raw.get("connectionId")),
            files=yaml["yaml"].get("files") if yaml.get("yaml") else None,
            combined_only=bool(yaml) and yaml.get("layer") != "extension",
            git_follower=bool((yaml.get("git") or {}).get("gitFollower")),
        )
    content.load(r, view)


# ---------------------------------------------------------------------- inventory


async def read_target(client: OmniClient, inv: Target) -> None:
    inv.connections = {c.name: c.id for c in await client.list_connections()}
    names = {v: k for k, v in inv.connections.items()}
    async for model in client.list_models():
        key = content.model_key(
            names.get(model.connection_id or "", model.connection_id), model.model_kind, model.name
        )
        inv.models[key] = TargetModel(id=model.id, key=key, kind=model.model_kind)


# ---------------------------------------------------------------------- plan


def target_model(ctx: PlanContext, key: str | None) -> tuple[str, str | None] | None:
    """(target id, kind) of the model `key` maps to: the override file first."""
    if key is None:
        return None
    view, inv = part(ctx.view, View), part(ctx.inv, Target)
    src = view.models.get(key)
    if src and src.source_id and src.source_id in ctx.opt.model_map:
        target_id = ctx.opt.model_map[src.source_id]
        kind = next((m.kind for m in inv.models.values() if m.id == target_id), None)
        return target_id, kind
    have = inv.models.get(key)
    return (have.id, have.kind) if have else None


def plan(ctx: PlanContext[View, Target]) -> None:
    if not ctx.opt.models or ctx.filtered:
        return
    for key, model in sorted(ctx.view.models.items()):
        if model.files is None:
            continue
        action = Action(id=yaml_action_id(key), kind="model.yaml", object=key, op="create",
                        params={"model": key, "files": model.files})  # fmt: skip
        target = target_model(ctx, key)
        if model.combined_only:
            ctx.mark(action, "blocked", "this snapshot holds the model's combined YAML "
                     "(schema views included), not its own layer: back up again")  # fmt: skip
        elif target is None:
            ctx.mark(action, "blocked", f"model {key} is not on the target (--model-map)")
        elif model.git_follower:
            ctx.mark(action, "blocked", "git-follower model: YAML comes from git, push it there")
        elif target[1] == "SCHEMA":
            ctx.mark(action, "blocked", "schema models take no YAML")
        else:
            ctx.decide(action)


# ---------------------------------------------------------------------- apply


async def write_yaml(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    """Make the target model's own layer (`extension` mode) equal the snapshot's, file for
    file: changed files written, files the snapshot lacks deleted (an empty file deletes in
    extension mode). The schema model's views are never copied in."""
    models = part(ctx.inventory, Target).models
    model_id = next(m.id for m in models.values() if m.key == a.params["model"])
    have = (await c.get_model_yaml(model_id, mode="extension")).files
    want = a.params["files"]
    for key in sorted(set(want) | set(have)):
        if want.get(key) != have.get(key):
            await c.put_model_yaml(
                model_id, yaml_file_name(key), want.get(key, ""), mode="extension"
            )
    await ctx.record(a, "done", model_id)


# ---------------------------------------------------------------------- verify


async def verify(ctx: VerifyContext[View, Target]) -> None:
    """The model's own layer, file for file: a file the snapshot lacks is a difference too
    (a copy of a schema view no longer follows the schema's refreshes)."""
    if not (ctx.whole and ctx.models):
        return
    t = ctx.report("model YAML")

    async def one(key: str, c: OmniClient) -> None:
        t.checked += 1
        have = (await c.get_model_yaml(ctx.inv.models[key].id, mode="extension")).files
        want = {f"file {name}": text for name, text in (ctx.view.models[key].files or {}).items()}
        t.check_all(key, want, {f"file {name}": text for name, text in have.items()})

    await ctx.reads.each(
        (
            key
            for key, model in sorted(ctx.view.models.items())
            if model.files is not None and not model.git_follower and key in ctx.inv.models
        ),
        one,
    )


class View(BaseModel):
    """This type's part of the snapshot view (`registry.SnapshotView`)."""

    models: dict[str, SourceModel] = Field(default_factory=dict)
    connections: list[str] = Field(default_factory=list)
    content: dict[str, ContentCapture] = Field(default_factory=dict)  # model key -> validator
    content_warnings: list[str] = Field(default_factory=list)


class Target(BaseModel):
    """This type's part of the target inventory (`registry.TargetInventory`); `WRITTEN_BY`:
    the action-id kinds a restore writes each field's keys with."""

    connections: dict[str, str] = Field(default_factory=dict)  # name -> id
    models: dict[str, TargetModel] = Field(default_factory=dict)


HANDLER = Handler(
    name="models",
    view=View,
    target=Target,
    ids=("model",),  # its action ids' kinds
    jobs={"connections": list_connections, "model_yaml": read_yaml, **content.JOBS},
    roots=("connections",),
    load=load,
    read_target=(read_target,),
    plan=plan,
    actions={
        # its own layer read, then each file
        "model.yaml": ActionKind(write_yaml, requests=lambda a: 1 + len(a.params.get("files", {}))),
    },
    verify=verify,
)
