"""The Lightdash planner: (snapshot view, target inventory, ledger, options) -> Plan. Pure.

Types are planned by their handlers in restore order (`registry.py`), each after what it
names, through the `PlanContext` here. Every object is compared
with the target by natural key through a digest of what restore writes: the same is
skipped, absent is created, different is a conflict (left alone) unless the ledger shows
this restore wrote it (then it is updated) or `--on-conflict overwrite`. Params hold natural
keys and blob refs; the applier turns them into the target's uuids and slugs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from omnimigrate.engine import contexts as engine
from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.handler import Registry, Selector
from omnimigrate.engine.plan import Action, Plan
from omnimigrate.engine.protocol import (
    adopted,
    claim,
    effects_id,
    is_reconcile,
    made_here,
    plan_reconciles,
)
from omnimigrate.engine.restore_ledger import LedgerRecord
from omnimigrate.platforms.lightdash.natural_keys import SnapshotView, TargetInventory, space_key
from omnimigrate.platforms.lightdash.options import LightdashRestoreOptions

LightdashPlan = Plan[TargetInventory, LightdashRestoreOptions]
RENAMED = ("ld.chart", "ld.dashboard")  # what --on-conflict rename copies (others: conflicts)
NO_INVITE = "Lightdash's API cannot invite users: invite them in Lightdash, then plan again"


class PlanContext(engine.PlanContext[SnapshotView, TargetInventory, LightdashRestoreOptions]):
    def user_ok(self, email: str) -> bool:
        return email in self.inv.ids.users

    def group_missing(self, name: str, id_: str, kind: str, obj: str) -> bool:
        """A grant to a group the snapshot's group list lacks is blocked, named."""
        if name in self.view.groups or name in self.inv.ids.groups:
            return False
        self.blocked(id_, kind, obj, f"group {name} is not in the snapshot's groups: the "
                     "backup's token could not list it; back up with an organization admin's token")  # fmt: skip
        return True

    def space_missing(self, project: str, path: list[str], action: Action) -> bool:
        """Content whose space the snapshot lacks (the backup's token could not read it) is
        blocked, named, instead of failing when it is written."""
        if "/".join(path) in self.view.projects[project].spaces:
            return False
        self.blocked(action.id, action.kind, action.object,
                     f"its space {'/'.join(path)!r} is not in the snapshot: the backup's token "
                     "could not read it; back up with a token that can")  # fmt: skip
        return True

    def compare(
        self, action: Action, have: str | None, want: str, parents: Iterable[str] = ()
    ) -> Action:
        """A write that follows its parents (`follow`), decided by comparing the target's
        object with the snapshot's: `have`/`want` are their digests (None: absent). An
        object an interrupted run of this restore made is adopted, and what hangs on it is
        this restore's to finish (`engine/protocol.py`)."""
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
        if self.opt.on_conflict == "rename" and action.kind in RENAMED:
            return self.renamed(action, want)
        if any(self.actions[p].adopt or made_here(self.ledger, p) for p in deps):
            return self.mark(action, "update", "its object was made by an interrupted run")
        if (rec and rec.status == "done") or self.opt.on_conflict == "overwrite":
            return self.mark(action, "update", "differs on the target")
        return self.mark(action, "conflict", "differs on the target (use --on-conflict overwrite)")

    def place(self, action: Action, space: list[str], want: str, parents: Iterable[str]) -> Action:
        """Decide a chart or dashboard under the slug it goes up as: its own, unless, in a
        restore into the project the snapshot is of, that slug is taken while its space is
        not there (the space was deleted, which took what it held: the slug's holder now is
        another, left as it is). Then it comes back as `SLUG-restored` (`-2`…), named in the
        plan, and a re-run keeps the slug the first run chose (the ledger has it). Into
        another project, a slug held there is the same object's: a conflict, as ever."""
        project, slug = action.params["project"], action.params["slug"]
        have = self.inv.charts if action.kind == "ld.chart" else self.inv.dashboards
        copy = self.kept_slug(action.id)
        if copy is None and self.taken(action.kind, project, slug, space):
            n, copy = 1, f"{slug}-restored"
            while have.get(f"{project}:{copy}", want) != want:
                n += 1
                copy = f"{slug}-restored-{n}"
        if copy is None:
            return self.compare(action, have.get(f"{project}:{slug}"), want, parents)
        moved = action.model_copy(update={"params": {**action.params, "slug": copy, "taken": True}})
        decided = self.compare(moved, have.get(f"{project}:{copy}"), want, parents)
        what = action.kind.removeprefix("ld.")
        if decided.op == "create":
            reason = (f"its space is not on the target and its slug {slug} is taken there by "
                      f"another {what}: it comes back as {copy}")  # fmt: skip
        else:
            reason = f"{decided.reason}, as {copy} (its slug {slug} is taken by another {what})"
        warning = f"links to {slug} now open the other {what}" if decided.writes else ""
        return self.add(decided.model_copy(update={"reason": reason, "warning": warning}))

    def kept_slug(self, id_: str) -> str | None:
        """The new slug an earlier run of this restore gave a chart or dashboard."""
        rec = self.ledger.get(id_)
        return rec.detail.get("slug") if rec else None

    def taken(self, kind: str, project: str, slug: str, space: list[str]) -> bool:
        """A chart's or dashboard's slug is another's on the target (`place`)."""
        have = self.inv.charts if kind == "ld.chart" else self.inv.dashboards
        space_action = self.actions.get(action_id("ld.space", space_key(project, space)))
        own = self.view.projects[project].uuid == self.inv.ids.projects[project]
        gone = own and space_action is not None and space_action.op == "create"
        return gone and f"{project}:{slug}" in have

    def slug_of(self, kind: str, project: str, slug: str) -> str:
        """The slug a chart or dashboard of the snapshot goes up as when its own is taken
        (`place`), as planned, else as an earlier run gave it; else its own."""
        planned = self.actions.get(action_id(kind, f"{project}:{slug}"))
        if planned is not None and planned.params.get("taken"):
            return str(planned.params["slug"])
        return self.kept_slug(action_id(kind, f"{project}:{slug}")) or slug

    def renamed(self, action: Action, want: str) -> Action:
        """`--on-conflict rename`: the snapshot's chart or dashboard goes up as a copy under
        a new slug (`SLUG-restored`, then `-2`…), named in the plan; the target's stays as it
        is. A copy already there and the same (a re-run) is skipped."""
        have = self.inv.charts if action.kind == "ld.chart" else self.inv.dashboards
        project, slug = action.params["project"], action.params["slug"]
        n, copy = 1, f"{slug}-restored"
        while f"{project}:{copy}" in have and have[f"{project}:{copy}"] != want:
            n += 1
            copy = f"{slug}-restored-{n}"
        renamed = action.model_copy(update={"params": {**action.params, "slug": copy}})
        if have.get(f"{project}:{copy}") == want:
            return self.mark(renamed, "skip", f"its copy {copy} is the same on the target")
        return self.mark(
            renamed,
            "create",
            f"differs on the target: uploaded as a copy, {copy} (--on-conflict rename)",
        )


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


def matches(action: Action, pattern: str, selectors: dict[str, Selector]) -> bool:
    """A handler's selector (`chart:SLUG`, `dashboard:SLUG`, `sqlchart:SLUG`, `scheduler:KEY`:
    globs), else a space path glob (`Finance/**`): the space and what is in it (a
    scheduler follows what it is on: `select`)."""
    kind, _, rest = pattern.partition(":")
    natural_key = natural(action)
    if kind in selectors and rest:
        return selectors[kind](action, rest)
    if action.kind in ("ld.space", "ld.space.access"):
        return in_glob(natural_key, pattern)
    content = ("ld.chart", "ld.dashboard", "ld.sqlchart")
    space = action.params.get("space") if action.kind in content else None
    return space is not None and in_glob("/".join(space), pattern)


def select(ctx: PlanContext, include: list[str], exclude: list[str]) -> None:
    """Keep what --include names less what --exclude names, with what it needs: the actions
    it depends on (its space and the parents, the charts a dashboard's tiles name, groups),
    each space's access, and the link of a chart saved in a selected dashboard. Everything
    else is left as it is on the target (skip, "not selected"), so nothing else is written."""
    chosen = {
        a.id for a in ctx.actions.values()
        if (not include or any(matches(a, p, ctx.selectors) for p in include))
        and not any(matches(a, p, ctx.selectors) for p in exclude)
        and a.kind not in ("ld.group", "ld.group.members", "ld.access.user", "ld.access.group", "ld.attribute")
    }  # fmt: skip
    # what hangs on a chosen chart or dashboard comes with it: its schedulers
    chosen |= {
        a.id for a in ctx.actions.values()
        if a.kind == "ld.scheduler" and set(a.depends_on) & chosen
        and not any(matches(a, p, ctx.selectors) for p in exclude)
    }  # fmt: skip
    direct, todo = set(chosen), list(chosen)
    while todo:
        a = ctx.actions[todo.pop()]
        # a reconcile waits for the space's writes, but selects none of them
        extra = [] if is_reconcile(a.id) else [*a.depends_on]
        if a.kind == "ld.space":
            extra += [a.id.replace("ld.space:", "ld.space.access:", 1), effects_id(a.id)]
        if a.kind == "ld.chart":
            extra.append(a.id + ":link")
        if a.kind == "ld.dashboard":  # the charts saved in it are linked to it
            extra += [
                x.id
                for x in ctx.actions.values()
                if a.id in x.depends_on and x.id.endswith(":link")
            ]
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
    view: SnapshotView,
    inv: TargetInventory,
    ledger: dict[str, LedgerRecord],
    options: LightdashRestoreOptions,
    now: datetime,
    registry: Registry[Any],
) -> LightdashPlan:
    ctx = PlanContext(view, inv, ledger, options, registry.selectors)
    for project in sorted(set(view.projects) - set(inv.ids.projects)):
        ctx.blocked(action_id("ld.project", project), "ld.project", project,
                    f"no project {project!r} on the target: create it in Lightdash, or name one with --project")  # fmt: skip
    for handler in registry.handlers:
        if handler.plan:
            handler.plan(ctx)
    for effect in registry.side_effects:
        plan_reconciles(ctx, effect)
    if options.include or options.exclude:
        select(ctx, options.include, options.exclude)
    actions = list(ctx.actions.values())
    registry.cost(actions)
    return LightdashPlan(platform="lightdash", snapshot_id=view.snapshot_id, source_instance=view.instance,
                         target_url=inv.url, created_at=now, options=options, inventory=inv,
                         actions=actions)  # fmt: skip
