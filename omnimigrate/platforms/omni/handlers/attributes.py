"""User-attribute definitions: name, label, type, multiple values, default and description.
Omni's API only reads them (`GET /api/v1/user-attributes`; DIGEST §4: "user-attribute
definitions (MANUAL)"): no route creates or changes one, so restore never writes them. Backup
keeps the custom ones (system attributes are Omni's own, the same on every instance); the plan
names each one the target lacks or holds otherwise, blocked, with what to set by hand; verify
compares them by name. First in the order: a user's attribute values name a definition, and
Omni refuses a value for one it lacks (400 unknown attribute)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.omni.client.attributes import AttributeValue, UserAttributeDefinition
from omnimigrate.platforms.omni.handler import Handler

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
    from omnimigrate.platforms.omni.verifying import VerifyContext

FIELDS = ("label", "type", "multiple_values", "default_value", "description")
WHERE = "Omni's API cannot create or change one: set it in Omni's Settings > User attributes"


class SourceAttribute(BaseModel):
    name: str
    label: str
    type: str
    multiple_values: bool
    default_value: AttributeValue
    description: str | None

    def fields(self) -> dict[str, Any]:
        return self.model_dump(include=set(FIELDS))


def kept(listed: list[UserAttributeDefinition]) -> dict[str, dict[str, Any]]:
    """The custom definitions by name, with what backup keeps and verify compares."""
    return {a.name: a.model_dump(include=set(FIELDS)) for a in listed if not a.system}


async def list_attributes(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    found = kept(await client.list_user_attributes())
    return JobResult(
        entries=[await ctx.entry("user_attribute", n, body) for n, body in found.items()]
    )


def load(r: SnapshotReader, view: View) -> None:
    for o in r.entries("user_attribute"):
        view.user_attributes[o.key] = SourceAttribute.model_validate(
            {**(r.blob(o) or {}), "name": o.key}
        )


async def read_target(client: OmniClient, inv: Target) -> None:
    inv.user_attributes = kept(await client.list_user_attributes())


def differences(want: dict[str, Any], have: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {have.get(k)!r} (the snapshot's {v!r})" for k, v in want.items() if have.get(k) != v
    )


def plan(ctx: PlanContext[View, Target]) -> None:
    if ctx.filtered:  # definitions are the organization's: a selection leaves them alone
        return
    for name, attr in sorted(ctx.view.user_attributes.items()):
        action = Action(id=action_id("user_attribute", name), kind="user_attribute.define",
                        object=name, op="create", params=attr.model_dump())  # fmt: skip
        have = ctx.inv.user_attributes.get(name)
        if have is None:
            ctx.mark(action, "blocked", f"not on the target ({attr.type}, label {attr.label!r}, "
                     f"default {attr.default_value!r}): {WHERE}, then re-run")  # fmt: skip
        elif have == attr.fields():
            ctx.mark(action, "skip", "exists on the target")
        else:
            ctx.mark(
                action, "blocked", f"the target's has {differences(attr.fields(), have)}: {WHERE}"
            )


async def verify(ctx: VerifyContext[View, Target]) -> None:
    if not ctx.whole:
        return
    t = ctx.report("user attributes")
    for name, attr in sorted(ctx.view.user_attributes.items()):
        t.checked += 1
        t.check_all(name, attr.fields(), ctx.inv.user_attributes.get(name) or {})


class View(BaseModel):
    """This type's part of the snapshot view (`registry.SnapshotView`)."""

    user_attributes: dict[str, SourceAttribute] = Field(default_factory=dict)


class Target(BaseModel):
    """This type's part of the target inventory (`registry.TargetInventory`)."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"user_attributes": "user_attribute"}

    user_attributes: dict[str, dict[str, Any]] = Field(default_factory=dict)  # name -> fields


HANDLER = Handler(
    name="user attributes",
    view=View,
    target=Target,
    ids=("user_attribute",),
    jobs={"user_attributes": list_attributes},
    roots=("user_attributes",),
    load=load,
    read_target=(read_target,),
    plan=plan,
    verify=verify,
)
