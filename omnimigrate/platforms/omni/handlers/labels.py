"""Labels, by name (case-insensitive on Omni), with their verified and homepage flags, color
and description. Documents are labelled with them, so they are restored before documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Protocol

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.omni.handler import ActionKind, Handler

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
    from omnimigrate.platforms.omni.verifying import VerifyContext

SETTINGS = ("verified", "homepage", "color", "description")  # what restore writes of a label


class SourceLabel(BaseModel):
    name: str
    verified: bool = False
    homepage: bool = False
    color: str | None = None
    description: str | None = None

    def settings(self) -> dict[str, object]:
        """What restore writes, keyed as the target inventory keeps it."""
        return self.model_dump(include=set(SETTINGS))


def label_action_id(name: str) -> str:
    return action_id("label", name.lower())


async def list_labels(ctx: BackupContext, client: OmniClient, args: Mapping[str, str]) -> JobResult:
    labels = await client.list_labels()
    return JobResult(entries=[await ctx.entry("label", lb.name, lb.dump()) for lb in labels])


def load(r: SnapshotReader, view: View) -> None:
    for o in r.entries("label"):
        view.labels[o.key] = SourceLabel.model_validate({**(r.blob(o) or {}), "name": o.key})


async def read_target(client: OmniClient, inv: Target) -> None:
    for label in await client.list_labels():
        inv.labels[label.name.lower()] = {k: getattr(label, k) for k in SETTINGS}


def plan(ctx: PlanContext[View, Target]) -> None:
    """Labels the target lacks or holds otherwise; with a filter, those the selected
    documents carry (`Handler.references`)."""
    for name, label in sorted(ctx.view.labels.items()):
        if ctx.filtered and label_action_id(name) not in ctx.referenced:
            continue
        action = Action(id=label_action_id(name), kind="label.create", object=name, op="create",
                        params=label.model_dump())  # fmt: skip
        have = ctx.inv.labels.get(name.lower())
        if have is None:
            ctx.decide(action, absent=True)
        elif have == label.settings():
            ctx.mark(action, "skip", "exists on the target")
        elif ctx.opt.on_conflict == "overwrite":
            ctx.add(action.model_copy(
                update={"op": "update", "kind": "label.update", "reason": "settings differ"}
            ))  # fmt: skip
        else:
            ctx.mark(action, "conflict", "exists with other flags, color or description")


async def create_label(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    p = a.params
    await c.create_label(p["name"], **{k: p[k] for k in SETTINGS})
    await ctx.record(a, "done", p["name"])


async def update_label(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    p = a.params
    await c.update_label(p["name"], **{k: p[k] for k in SETTINGS})
    await ctx.record(a, "done", p["name"])


def labelled(doc: Labelled, name: str) -> bool:
    """`--include label:NAME`: the documents with that label (case-insensitive, as Omni's)."""
    return name.lower() in {x.lower() for x in doc.labels}


class Labelled(Protocol):
    """What `label:NAME` asks of an object: its labels (a document's)."""

    labels: list[str]


async def verify(ctx: VerifyContext[View, Target]) -> None:
    if not ctx.whole:
        return
    t = ctx.report("labels")
    for name, label in sorted(ctx.view.labels.items()):
        t.checked += 1
        t.check_all(name, label.settings(), ctx.inv.labels.get(name.lower()) or {})


class View(BaseModel):
    """This type's part of the snapshot view (`registry.SnapshotView`)."""

    labels: dict[str, SourceLabel] = Field(default_factory=dict)


class Target(BaseModel):
    """This type's part of the target inventory (`registry.TargetInventory`); `WRITTEN_BY`:
    the action-id kinds a restore writes each field's keys with."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"labels": "label"}

    labels: dict[str, dict[str, object]] = Field(default_factory=dict)  # lower name -> settings


HANDLER = Handler(
    name="labels",
    view=View,
    target=Target,
    ids=("label",),  # its action ids' kinds
    jobs={"labels": list_labels},
    roots=("labels",),
    load=load,
    read_target=(read_target,),
    plan=plan,
    actions={"label.create": ActionKind(create_label), "label.update": ActionKind(update_label)},
    selectors={"label": labelled},
    verify=verify,
)
