"""The Lightdash planner: (snapshot view, target inventory, ledger, options) -> Plan. Pure.

Types are planned by their handlers in restore order (`registry.py`), each after what it
names, through the `PlanContext` here, typed by the parts the handler reads
(`PlanContext[View, Target]`: its part of the snapshot view, of the inventory). Every object
is compared with the target by natural key through a digest of what restore writes: the same
is skipped, absent is created, different is a conflict (left alone) unless the ledger shows
this restore wrote it (then it is updated) or `--on-conflict overwrite`. Params hold natural
keys and blob refs; the applier turns them into the target's uuids and slugs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from omnimigrate.engine import contexts as engine
from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.handler import Registry, Selector
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action, Plan
from omnimigrate.engine.protocol import adopted, claim, is_reconcile, made_here
from omnimigrate.engine.restore_ledger import LedgerRecord
from omnimigrate.platforms.lightdash.client import ISPRIVATE
from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, ViewBase
from omnimigrate.platforms.lightdash.options import LightdashRestoreOptions

# the plan as the planner and the applier type it; `registry.PLAN` is the one its inventory
# is read into (the composed `TargetInventory`)
LightdashPlan = Plan[InventoryBase, LightdashRestoreOptions]
ViewT = TypeVar("ViewT")  # the snapshot view, as the part a handler reads
InvT = TypeVar("InvT")  # the inventory, as the part a handler reads
PartT = TypeVar("PartT", bound=BaseModel)
# a bare --include/--exclude pattern (no KIND: prefix a type answers) is a space path glob,
# answered by the selector of this name (the spaces handler's)
SPACE_PATH = "space"


class PlanContext(engine.PlanContext[ViewT, InvT, LightdashRestoreOptions]):
    """A handler's planner context: `view` and `inv` are typed by the parts it reads (the
    objects are the composed ones, so another type's part is `engine.parts.part(ctx.inv,
    Other.Target)`); what every type reads of the bases is here."""

    @property
    def snapshot(self) -> ViewBase:
        return cast(ViewBase, self.view)

    @property
    def target(self) -> InventoryBase:
        return cast(InventoryBase, self.inv)

    @property
    def projects(self) -> list[str]:
        """The snapshot's projects the target has, by name (the others are blocked)."""
        return sorted(self.target.ids.projects)

    @property
    def old(self) -> bool:
        """The target serves 0.1471 (the isPrivate model), not 1.219."""
        return self.target.space_model == ISPRIVATE

    def source(self, project: str, of: type[PartT]) -> PartT:
        """The snapshot's project, as its part `of`."""
        return part(self.snapshot.projects[project], of)

    def ids(self, of: type[PartT]) -> PartT:
        """The target's uuids, as their part `of`."""
        return part(self.target.ids, of)

    def own_project(self, project: str) -> bool:
        """A restore into the very project the snapshot is of."""
        return self.snapshot.projects[project].uuid == self.target.ids.projects[project]

    def compare(
        self,
        action: Action,
        have: str | None,
        want: str,
        parents: Iterable[str] = (),
        rename: Callable[[Action, str], Action] | None = None,
    ) -> Action:
        """A write that follows its parents (`follow`), decided by comparing the target's
        object with the snapshot's: `have`/`want` are their digests (None: absent). An
        object an interrupted run of this restore made is adopted, and what hangs on it is
        this restore's to finish (`engine/protocol.py`). `rename`: how the type answers
        `--on-conflict rename` (uploaded as a copy); without it, a conflict as ever."""
        action, decided = self.follow(action, parents)
        if decided:
            return decided
        deps = action.depends_on
        if have is None:
            return self.mark(action, "create", "not on the target")
        if claim(self.ledger, action, present=True) == "ours":
            return self.add(adopted(action))
        if have == want:
            return self.mark(action, "skip", "the same on the target")
        rec = self.ledger.get(action.id)
        if self.opt.on_conflict == "rename" and rename is not None:
            return rename(action, want)
        if any(self.actions[p].adopt or made_here(self.ledger, p) for p in deps):
            return self.mark(action, "update", "its object was made by an interrupted run")
        if (rec and rec.status == "done") or self.opt.on_conflict == "overwrite":
            return self.mark(action, "update", "differs on the target")
        return self.mark(action, "conflict", "differs on the target (use --on-conflict overwrite)")


def in_glob(path: str, pattern: str) -> bool:
    """A space path glob: `Finance/**` names Finance itself as well as what is under it."""
    return fnmatchcase(path, pattern) or fnmatchcase(path + "/", pattern.rstrip("*"))


def natural(action: Action) -> str:
    """An action's object less its project (`analytics:Finance` -> `Finance`)."""
    return action.object.split(":", 1)[-1] if ":" in action.object else action.object


def by_key(kind: str) -> Selector:
    """The selector of a type's own actions by a glob of their natural key (`chart:rev-*`)."""

    def selects(action: Action, glob: str) -> bool:
        return action.kind == kind and fnmatchcase(natural(action), glob)

    return selects


def matches(action: Action, pattern: str, selectors: Mapping[str, Selector]) -> bool:
    """A handler's selector (`chart:SLUG`, `dashboard:SLUG`, `sqlchart:SLUG`, `scheduler:KEY`,
    `tag:NAME`: globs), else a space path glob (`Finance/**`), which the `SPACE_PATH`
    selector answers: the space and what is in it (a scheduler follows what it is on:
    `select`)."""
    kind, _, rest = pattern.partition(":")
    if kind in selectors and rest:
        return selectors[kind](action, rest)
    path = selectors.get(SPACE_PATH)
    return path is not None and path(action, pattern)


def select(
    ctx: PlanContext[Any, Any], include: list[str], exclude: list[str], kinds: Mapping[str, Any]
) -> None:
    """Keep what --include names less what --exclude names, with what it needs: the actions
    it depends on (its space and the parents, the charts a dashboard's tiles name, groups)
    and what each one `brings` (a space's access, the link of a chart saved in a selected
    dashboard); what `follows` a chosen one comes with it (its schedulers). Everything else
    is left as it is on the target (skip, "not selected"), so nothing else is written.
    `kinds`: the registry's action kinds (`handler.ActionKind`: `selected`, `follows`,
    `brings`; a kind nothing writes is selected by its pattern, and brings nothing)."""

    def selected(a: Action) -> bool:
        return bool(getattr(kinds.get(a.kind), "selected", True))

    def follows(a: Action) -> bool:
        return bool(getattr(kinds.get(a.kind), "follows", False))

    def excluded(a: Action) -> bool:
        return any(matches(a, p, ctx.selectors) for p in exclude)

    chosen = {
        a.id for a in ctx.actions.values()
        if selected(a) and not excluded(a)
        and (not include or any(matches(a, p, ctx.selectors) for p in include))
    }  # fmt: skip
    chosen |= {
        a.id for a in ctx.actions.values()
        if follows(a) and set(a.depends_on) & chosen and not excluded(a)
    }  # fmt: skip
    direct, todo = set(chosen), list(chosen)
    while todo:
        a = ctx.actions[todo.pop()]
        # a reconcile waits for the space's writes, but selects none of them
        extra = [] if is_reconcile(a.id) else [*a.depends_on]
        brings = getattr(kinds.get(a.kind), "brings", None)
        if brings is not None:
            extra += brings(a, ctx.actions)
        for dep in extra:
            if dep in ctx.actions and dep not in chosen:
                chosen.add(dep)
                todo.append(dep)
    for a in list(ctx.actions.values()):
        if a.id not in chosen and a.op != "blocked":
            # nothing is written for it, so nothing to warn of
            ctx.add(a.model_copy(update={"op": "skip", "warning": "",
                                         "reason": "not selected (--include/--exclude)"}))  # fmt: skip
        elif a.id not in direct:
            ctx.mark(a, a.op, f"{a.reason} (a dependency of the selection)")


def make_plan(
    view: ViewBase,
    inv: InventoryBase,
    ledger: dict[str, LedgerRecord],
    options: LightdashRestoreOptions,
    now: datetime,
    registry: Registry[Any],
    plan_type: type[LightdashPlan] = LightdashPlan,
) -> LightdashPlan:
    """`plan_type`: the plan whose inventory is the registry's composed one."""
    ctx: PlanContext[Any, Any] = PlanContext(view, inv, ledger, options, registry.selectors)
    for project in sorted(set(view.projects) - set(inv.ids.projects)):
        ctx.blocked(action_id("ld.project", project), "ld.project", project,
                    f"no project {project!r} on the target: create it in Lightdash, or name one with --project")  # fmt: skip
    registry.plan(ctx)
    if options.include or options.exclude:
        select(ctx, options.include, options.exclude, registry.actions)
    actions = list(ctx.actions.values())
    registry.cost(actions)
    return plan_type(platform="lightdash", snapshot_id=view.snapshot_id, source_instance=view.instance,
                     target_url=inv.url, created_at=now, options=options, inventory=inv,
                     actions=actions)  # fmt: skip
