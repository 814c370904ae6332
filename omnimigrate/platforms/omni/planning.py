"""The planner: (snapshot view, target inventory, ledger, options) -> Plan. Pure: no I/O.

Object types are planned in registry order (`registry.py`), each by its handler through the
`PlanContext` here: what this restore selects, what the target has, and the rules every write
follows (`decide`). Every action names the actions it waits for in `depends_on`, so the
applier writes in that order too. Params hold natural keys (emails, group names, paths), never
target ids: the applier resolves them when it runs, so a plan stays readable and valid across
id changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from omnimigrate.engine import contexts as engine
from omnimigrate.engine.action_ids import action_id, step_of
from omnimigrate.engine.handler import Selector
from omnimigrate.engine.plan import Action, Op, Plan
from omnimigrate.engine.restore_ledger import LedgerRecord
from omnimigrate.engine.scope import PathFilter, ancestors
from omnimigrate.platforms.omni.handlers.documents import IMPORT, SourceDocument
from omnimigrate.platforms.omni.options import OmniRestoreOptions
from omnimigrate.platforms.omni.principals import Grant, Principal
from omnimigrate.platforms.omni.registry import REGISTRY, SnapshotView, TargetInventory
from omnimigrate.platforms.omni.trash import restored_as

REMADE = (IMPORT, "folder.create")  # kinds whose object, made again, starts with nothing on it
OmniPlan = Plan[TargetInventory, OmniRestoreOptions]


class PlanContext(engine.PlanContext[SnapshotView, TargetInventory, OmniRestoreOptions]):
    def __init__(
        self,
        source: SnapshotView,
        inv: TargetInventory,
        ledger: dict[str, LedgerRecord],
        options: OmniRestoreOptions,
        selectors: dict[str, Selector] | None = None,
    ) -> None:
        super().__init__(source, inv, ledger, options, selectors)
        self.filtered = bool(options.include or options.exclude)
        # source identifier -> the one a restore brought it back under (trash.py)
        self.aliases = restored_as(ledger, inv)
        self.docs = self._selected_documents()
        self.folders = self._selected_folders()

    # ------------------------------------------------------------------ writes

    def decide(
        self,
        action: Action,
        parents: Iterable[str] = (),
        op: Op | None = None,
        *,
        absent: bool = False,
    ) -> Action:
        """A write that follows its parents (`follow`), skipped when the ledger shows the
        same write done and no parent was re-created (unless the object is `absent` from the
        target: then it is written again)."""
        action, decided = self.follow(action, [*action.depends_on, *parents])
        if decided:
            return decided
        parents = action.depends_on
        rec = self.ledger.get(action.id)
        if (
            rec
            and rec.status == "done"
            and rec.digest == action.digest
            and not (self.reimported(parents) or absent)
        ):
            return self.mark(action, "skip", "unchanged since the last restore")
        return self.add(
            action.model_copy(update={"op": op or ("update" if rec and not absent else "create")})
        )

    def reimported(self, parents: Iterable[str]) -> bool:
        """Whether a parent document is (re)imported, or a parent folder made again (deleted
        since the last restore), in this plan: its children start over."""
        return any(
            self.actions[p].writes and self.actions[p].kind in REMADE
            for p in parents
            if p in self.actions
        )

    def permissions(
        self,
        id_: str,
        kind: str,
        key: str,
        params: dict[str, Any],
        grants: list[Grant],
        parents: list[str],
        *,
        of: str,
    ) -> None:
        """Direct grants on a folder or document: one action for the principals the target
        has, and a blocked action for each one it lacks. The action writes a diff of the
        target's permits (`principals.permit_writes`), removing others only from an object
        this restore makes or made (`of`: its create), or overwrites; one this plan makes
        (`fresh`) has none yet, and they are not read."""
        ok = []
        for g in grants:
            if self.principal_ok(g.principal):
                ok.append(g.model_dump())
            else:
                self.add(Action(id=step_of(id_, g.principal.kind, g.principal.key), kind="grant",
                                object=f"{key} -> {g.principal.key}", op="blocked",
                                reason=self.missing_reason(g.principal)))  # fmt: skip
        remove = self.opt.on_conflict == "overwrite" or self.restores(of)
        # none left in the snapshot: the ones an earlier run wrote go
        if ok or (remove and id_ in self.ledger):
            made = self.actions.get(of)
            fresh = made is not None and made.writes and made.kind in REMADE
            action = Action(
                id=id_,
                kind=kind,
                object=key,
                op="create",
                params={**params, "grants": ok},
                have={"remove": remove, "fresh": fresh},
            )
            self.decide(action, [*parents, *self.identity_deps(g.principal for g in grants)])

    def restores(self, create: str) -> bool:
        """Whether the object of the create action `create` is this restore's: this plan
        makes or adopts it, or an earlier run of this restore did (its ledger record)."""
        action = self.actions.get(create)
        return action is not None and (action.writes or action.adopt or create in self.ledger)

    # ------------------------------------------------------------------ the target

    def user_ok(self, email: str) -> bool:
        return email in self.inv.users or action_id("user", email) in self.actions

    def group_ok(self, name: str) -> bool:
        return name in self.inv.groups or action_id("group", name) in self.actions

    def principal_ok(self, p: Principal) -> bool:
        return self.user_ok(p.key) if p.kind == "user" else self.group_ok(p.key)

    def missing_reason(self, p: Principal) -> str:
        flag = "--create-missing-users" if p.kind == "user" else "--create-missing-groups"
        return f"{p.kind} {p.key} is not on the target (create it there, or use {flag})"

    def identity_deps(self, principals: Iterable[Principal]) -> list[str]:
        ids = (action_id(p.kind, p.key) for p in principals)
        return [i for i in ids if i in self.actions]

    def target_model(self, key: str | None) -> tuple[str, str | None] | None:
        """(target id, kind) of the model `key` maps to: the override file first."""
        if key is None:
            return None
        src = self.view.models.get(key)
        if src and src.source_id and src.source_id in self.opt.model_map:
            target_id = self.opt.model_map[src.source_id]
            kind = next((m.kind for m in self.inv.models.values() if m.id == target_id), None)
            return target_id, kind
        have = self.inv.models.get(key)
        return (have.id, have.kind) if have else None

    # ------------------------------------------------------------------ what is selected

    def _in(self, doc: SourceDocument, patterns: list[str]) -> bool:
        """A document an --include/--exclude pattern names: by a handler's selector
        (`label:NAME`, `document:IDENTIFIER`), else by its folder's glob."""
        folder_globs = tuple(p for p in patterns if ":" not in p)
        for p in patterns:
            kind, _, value = p.partition(":")
            if kind in self.selectors and self.selectors[kind](doc, value):
                return True
        return bool(folder_globs) and PathFilter(include=folder_globs)(doc.folder_path)

    def _selected_documents(self) -> list[SourceDocument]:
        chosen = []
        for doc in sorted(self.view.documents.values(), key=lambda d: d.identifier):
            if doc.deleted and not self.opt.include_deleted:
                continue
            if self.opt.include and not self._in(doc, self.opt.include):
                continue
            if self.opt.exclude and self._in(doc, self.opt.exclude):
                continue
            chosen.append(doc)
        return chosen

    def _selected_folders(self) -> list[str]:
        if not self.filtered:
            return sorted(self.view.folders)
        paths = {a for d in self.docs if d.folder_path for a in ancestors(d.folder_path)}
        globs = tuple(p for p in self.opt.include if ":" not in p)
        if globs:
            paths |= {
                a for f in self.view.folders if PathFilter(include=globs)(f) for a in ancestors(f)
            }
        return sorted(p for p in paths if p in self.view.folders)

    def referenced_principals(self) -> set[Principal]:
        """Who the selected documents and folders name: with a filter, only they are created."""
        refs: set[Principal] = set()
        for d in self.docs:
            refs |= {g.principal for g in d.grants}
            if d.owner:
                refs.add(Principal(kind="user", key=d.owner))
        for path in self.folders:
            refs |= {g.principal for g in self.view.folders[path].grants}
        return refs


def make_plan(
    source: SnapshotView,
    inventory: TargetInventory,
    ledger: dict[str, LedgerRecord],
    options: OmniRestoreOptions,
    now: datetime,
) -> OmniPlan:
    ctx = PlanContext(source, inventory, ledger, options, REGISTRY.selectors)
    for handler in REGISTRY.handlers:
        if handler.plan:
            handler.plan(ctx)
    actions = list(ctx.actions.values())
    REGISTRY.cost(actions)
    return OmniPlan(
        platform="omni",
        snapshot_id=source.snapshot_id,
        source_instance=source.instance,
        target_url=inventory.url,
        created_at=now,
        options=options,
        inventory=inventory,
        actions=actions,
    )
