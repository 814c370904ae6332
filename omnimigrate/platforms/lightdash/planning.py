"""The Lightdash planner: (snapshot view, target inventory, ledger, options) -> Plan. Pure.

Types are planned in `RESTORE_ORDER`, each after what it names. Every object is compared
with the target by natural key through a digest of what restore writes: the same is
skipped, absent is created, different is a conflict (left alone) unless the ledger shows
this restore wrote it (then it is updated) or `--on-conflict overwrite`. Params hold natural
keys and blob refs; the applier turns them into the target's uuids and slugs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from omnimigrate.engine.plan import Action, Op, Plan, RestoreOptions
from omnimigrate.engine.restore_ledger import LedgerRecord
from omnimigrate.platforms.lightdash.model import (
    SnapshotView,
    TargetInventory,
    digest,
    space_grants,
    space_key,
)

LightdashPlan = Plan[TargetInventory]
NO_INVITE = "Lightdash's API cannot invite users: invite them in Lightdash, then plan again"


def action_id(kind: str, *parts: str) -> str:
    return ":".join([kind, *parts])


class PlanContext:
    def __init__(
        self,
        view: SnapshotView,
        inv: TargetInventory,
        ledger: dict[str, LedgerRecord],
        options: RestoreOptions,
    ) -> None:
        self.view, self.inv, self.ledger, self.opt = view, inv, ledger, options
        self.actions: dict[str, Action] = {}

    def add(self, action: Action) -> Action:
        self.actions[action.id] = action
        return action

    def blocked(self, id_: str, kind: str, obj: str, reason: str) -> None:
        self.add(Action(id=id_, kind=kind, object=obj, op="blocked", reason=reason))

    def user_ok(self, email: str) -> bool:
        return email in self.inv.ids.users

    def decide(
        self, action: Action, have: str | None, want: str, parents: Iterable[str] = ()
    ) -> Action:
        """`have`/`want`: digests of the target's object (None: absent) and the snapshot's."""
        deps = [p for p in dict.fromkeys(parents) if p in self.actions]
        action = action.model_copy(update={"depends_on": deps})
        for p in deps:
            if self.actions[p].op == "blocked":
                return self.mark(action, "blocked", f"blocked by {p}")
            if self.actions[p].op == "conflict":
                return self.mark(action, "skip", f"{p} is left alone (--on-conflict skip)")
        if have is None:
            return self.mark(action, "create", "not on the target")
        if have == want:
            return self.mark(action, "skip", "the same on the target")
        rec = self.ledger.get(action.id)
        if (rec and rec.status == "done") or self.opt.on_conflict == "overwrite":
            return self.mark(action, "update", "differs on the target")
        return self.mark(action, "conflict", "differs on the target (use --on-conflict overwrite)")

    def mark(self, action: Action, op: Op, reason: str) -> Action:
        return self.add(action.model_copy(update={"op": op, "reason": reason}))


def plan_groups(ctx: PlanContext) -> None:
    for name, members in sorted(ctx.view.groups.items()):
        present = [e for e in members if ctx.user_ok(e)]
        for email in sorted(set(members) - set(present)):
            ctx.blocked(action_id("ld.group.member", name, email), "ld.group.member",
                        f"{name} -> {email}", f"user {email} is not on the target: {NO_INVITE}")  # fmt: skip
        have = ctx.inv.ids.groups.get(name)
        action = Action(id=action_id("ld.group", name), kind="ld.group", object=name,
                        op="create", params={"name": name, "members": present})  # fmt: skip
        if have is None:
            ctx.decide(action, None, "")
            continue
        # members are only ever added (never removed), so adding the missing ones is safe
        missing = sorted(set(present) - set(ctx.inv.members.get(name, [])))
        update = action.model_copy(update={"kind": "ld.group.members",
                                           "params": {"name": name, "add": missing}})  # fmt: skip
        if missing:
            ctx.mark(update, "update", f"adds {len(missing)} member(s)")
        else:
            ctx.mark(update, "skip", "the same members on the target")


def plan_access(ctx: PlanContext) -> None:
    for project in sorted(ctx.inv.ids.projects):
        src = ctx.view.projects[project]
        for email, role in sorted(src.users.items()):
            id_ = action_id("ld.access", project, "user", email)
            if not ctx.user_ok(email):
                ctx.blocked(
                    id_,
                    "ld.access.user",
                    f"{project} <- {email}",
                    f"user {email} is not on the target: {NO_INVITE}",
                )
                continue
            action = Action(id=id_, kind="ld.access.user", object=f"{project} <- {email}", op="create",
                            params={"project": project, "email": email, "role": role})  # fmt: skip
            ctx.decide(action, ctx.inv.access.get(f"{project}:user:{email}"), role)
        for group, role in sorted(src.groups.items()):
            action = Action(id=action_id("ld.access", project, "group", group), kind="ld.access.group",
                            object=f"{project} <- {group}", op="create",
                            params={"project": project, "group": group, "role": role})  # fmt: skip
            ctx.decide(action, ctx.inv.access.get(f"{project}:group:{group}"), role,
                       [action_id("ld.group", group)])  # fmt: skip


def plan_spaces(ctx: PlanContext) -> None:
    for project in sorted(ctx.inv.ids.projects):
        src = ctx.view.projects[project]
        for _key, space in sorted(src.spaces.items(), key=lambda kv: (len(kv[1].path), kv[0])):
            full = space_key(project, space.path)
            parent = (
                [action_id("ld.space", space_key(project, space.path[:-1]))]
                if len(space.path) > 1
                else []
            )
            action = Action(id=action_id("ld.space", full), kind="ld.space", object=full, op="create",
                            params={"project": project, "path": space.path, "private": space.private})  # fmt: skip
            ctx.decide(action, ctx.inv.spaces.get(full), digest(space.private), parent)
            users = {e: r for e, r in space.users.items() if ctx.user_ok(e)}
            for email in sorted(set(space.users) - set(users)):
                ctx.blocked(action_id("ld.space.share", full, email), "ld.space.share",
                            f"{full} <- {email}", f"user {email} is not on the target: {NO_INVITE}")  # fmt: skip
            if not users and not space.groups:
                continue
            grants = Action(id=action_id("ld.space.access", full), kind="ld.space.access", object=full,
                            op="create", params={"project": project, "path": space.path,
                                                 "users": users, "groups": space.groups})  # fmt: skip
            want = digest(space_grants(users, space.groups))
            ctx.decide(grants, ctx.inv.space_access.get(full), want,
                       [action.id, *(action_id("ld.group", g) for g in space.groups)])  # fmt: skip


def plan_content(ctx: PlanContext) -> None:
    """Charts (into their space), dashboards (after their tiles' charts), then the link of
    each chart saved in a dashboard that was not on the target yet."""
    for project in sorted(ctx.inv.ids.projects):
        src = ctx.view.projects[project]
        for slug, chart in sorted(src.charts.items()):
            key = f"{project}:{slug}"
            board_there = (
                chart.dashboard is not None and f"{project}:{chart.dashboard}" in ctx.inv.dashboards
            )
            params = {"project": project, "slug": slug, "space": chart.space,
                      "blob": ctx.view.blobs[f"ld_chart:{key}"],
                      "dashboard": chart.dashboard if board_there else None}  # fmt: skip
            action = Action(
                id=action_id("ld.chart", key),
                kind="ld.chart",
                object=key,
                op="create",
                params=params,
            )
            ctx.decide(action, ctx.inv.charts.get(key), digest(chart.compared()),
                       [action_id("ld.space", space_key(project, chart.space))])  # fmt: skip
        for slug, board in sorted(src.dashboards.items()):
            key = f"{project}:{slug}"
            params = {"project": project, "slug": slug, "space": board.space,
                      "blob": ctx.view.blobs[f"ld_dashboard:{key}"]}  # fmt: skip
            action = Action(id=action_id("ld.dashboard", key), kind="ld.dashboard", object=key, op="create",
                            params=params)  # fmt: skip
            parents = [action_id("ld.space", space_key(project, board.space)),
                       *(action_id("ld.chart", f"{project}:{c}") for c in board.chart_slugs())]  # fmt: skip
            ctx.decide(action, ctx.inv.dashboards.get(key), digest(board.compared()), parents)
        for slug, chart in sorted(src.charts.items()):
            key = f"{project}:{slug}"
            upload = ctx.actions[action_id("ld.chart", key)]
            if chart.dashboard is None or upload.params["dashboard"] or not upload.writes:
                continue
            link = upload.model_copy(update={
                "id": action_id("ld.chart", key, "link"), "kind": "ld.chart",
                "params": {**upload.params, "dashboard": chart.dashboard}, "reason": "saved in its dashboard",
                "depends_on": [upload.id, action_id("ld.dashboard", f"{project}:{chart.dashboard}")],
            })  # fmt: skip
            ctx.add(link)


def plan_schedulers(ctx: PlanContext) -> None:
    for project in sorted(ctx.inv.ids.projects):
        for key, s in sorted(ctx.view.projects[project].schedulers.items()):
            full = f"{project}:{key}"
            on = action_id(
                "ld.chart" if s.on == "chart" else "ld.dashboard", f"{project}:{s.resource}"
            )
            action = Action(id=action_id("ld.scheduler", full), kind="ld.scheduler", object=full, op="create",
                            params={"project": project, "key": key, "on": s.on, "resource": s.resource,
                                    "body": s.body, "targets": s.targets})  # fmt: skip
            ctx.decide(action, ctx.inv.schedulers.get(full), digest(s.compared()), [on])


Planner = Callable[[PlanContext], None]
# The restore order, each type after what it names, with the reason for its place.
RESTORE_ORDER: tuple[tuple[str, Planner, str], ...] = (
    ("groups", plan_groups, "members mapped by email; project and space access name groups"),
    ("project access", plan_access, "users by email and groups by name, before the content they open"),
    ("spaces", plan_spaces, "parents first, each with its user and group access: content goes into them"),
    ("charts, dashboards", plan_content, "charts into their space, dashboards after their tiles' charts"),
    ("schedulers", plan_schedulers, "last: each is on a chart or dashboard, which exists by now"),
)  # fmt: skip


def make_plan(
    view: SnapshotView,
    inv: TargetInventory,
    ledger: dict[str, LedgerRecord],
    options: RestoreOptions,
    now: datetime,
) -> LightdashPlan:
    ctx = PlanContext(view, inv, ledger, options)
    for project in sorted(set(view.projects) - set(inv.ids.projects)):
        ctx.blocked(action_id("ld.project", project), "ld.project", project,
                    f"no project {project!r} on the target: create it in Lightdash, or name one with --project")  # fmt: skip
    for _, planner, _ in RESTORE_ORDER:
        planner(ctx)
    actions = list(ctx.actions.values())
    for a in actions:
        a.requests = 1 if a.writes else 0
        if a.writes and a.kind == "ld.space.access":
            a.requests = len(a.params["users"]) + len(a.params["groups"])
    return LightdashPlan(platform="lightdash", snapshot_id=view.snapshot_id, source_instance=view.instance,
                         target_url=inv.url, created_at=now, options=options, inventory=inv,
                         actions=actions)  # fmt: skip
