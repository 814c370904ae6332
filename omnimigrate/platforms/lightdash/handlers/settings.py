"""A project's scheduler settings: its default time zone (`schedulerTimezone`, which a
scheduler without its own time zone runs in). Read from the project, written through
`PATCH …/schedulerSettings`, before the schedulers. Every project has one (UTC unless
set), so a different one on the target is set to the snapshot's, not left as a conflict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.natural_keys import projects

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader


class Settings(BaseModel):
    """Its part of a project, on both sides."""

    scheduler_timezone: str | None = None  # the project's default (None: not kept)


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"settings": "ld.settings"}

    settings: dict[str, str] = Field(default_factory=dict)  # project -> scheduler time zone


async def read_settings(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    body = {"schedulerTimezone": await client.scheduler_timezone(args["project"])}
    return JobResult(entries=[await ctx.entry("ld_settings", args["name"], body)])


def load(r: SnapshotReader, view: ViewBase) -> None:
    for o in r.entries("ld_settings"):
        part(view.projects[o.key], Settings).scheduler_timezone = r.blob(o)["schedulerTimezone"]


async def read(t: TargetReader) -> None:
    part(t.target, Settings).scheduler_timezone = await t.client.scheduler_timezone(t.uuid)


def inventory(state: StateBase, inv: InventoryBase) -> None:
    part(inv, Target).settings = {
        name: p.scheduler_timezone
        for name, p in projects(state, Settings).items()
        if p.scheduler_timezone is not None
    }


def plan(ctx: PlanContext[Any, Target]) -> None:
    for project in ctx.projects:
        zone = ctx.source(project, Settings).scheduler_timezone
        if zone is None:  # a snapshot made before settings were kept
            continue
        action = Action(id=action_id("ld.settings", project), kind="ld.settings",
                        object=f"{project} scheduler time zone", op="create",
                        params={"project": project, "schedulerTimezone": zone})  # fmt: skip
        have = ctx.inv.settings.get(project)
        if have == zone:
            ctx.mark(action, "skip", "the same on the target")
        else:  # every project has one (UTC when unset): not an object of the target's own
            ctx.mark(action.model_copy(update={"op": "update"}), "update",
                     f"the target's is {have}, the snapshot's {zone}")  # fmt: skip


async def write(ctx: ApplyContext[Any], client: LightdashClient, a: Action) -> None:
    await client.set_scheduler_timezone(
        ctx.project(a.params["project"]), a.params["schedulerTimezone"]
    )
    await ctx.done(a)


def rows(name: str, project: Settings) -> dict[str, Any]:
    if project.scheduler_timezone is None:
        return {}
    return {f"{name}:settings": {"schedulerTimezone": project.scheduler_timezone}}


HANDLER = Handler(
    name="project settings",
    project=Settings,
    target=Target,
    ids=("ld.settings",),  # its action ids' kinds
    jobs={"ld_settings": read_settings},
    per_project=("ld_settings",),
    load=load,
    read=read,
    inventory=inventory,
    plan=plan,
    actions={"ld.settings": ActionKind(write)},
    rows=rows,
)
