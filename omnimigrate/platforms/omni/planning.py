"""The planner's context for Omni's handlers: what this restore selects, what the target has,
and the rules every write follows (`decide`). Each handler plans its type through it, in
registry order (`phases.make_plan`), and reads its own parts of the snapshot view and the
target inventory through it, typed by them; a rule about one type (who the target has, which
documents are selected, which model a document goes on) is that type's handler's own.

Every action names the actions it waits for in `depends_on`, so the applier writes in that
order too. Params hold natural keys (emails, group names, paths), never target ids: the
applier resolves them when it runs, so a plan stays readable and valid across id changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from omnimigrate.engine import contexts as engine
from omnimigrate.engine.handler import Selector
from omnimigrate.engine.plan import Action, Inventory, Op, Plan
from omnimigrate.engine.restore_ledger import LedgerRecord
from omnimigrate.platforms.omni.options import OmniRestoreOptions

ViewT = TypeVar("ViewT")  # the handler's part of the snapshot view (the whole, composed)
InventoryT = TypeVar("InventoryT")  # its part of the target inventory
OmniPlan = Plan[Inventory, OmniRestoreOptions]  # of the registry's composed inventory


class PlanContext(
    engine.PlanContext[ViewT, InventoryT, OmniRestoreOptions], Generic[ViewT, InventoryT]
):
    def __init__(
        self,
        source: ViewT,
        inv: InventoryT,
        ledger: dict[str, LedgerRecord],
        options: OmniRestoreOptions,
        selectors: dict[str, Selector] | None = None,
        remade: Iterable[str] = (),
    ) -> None:
        """`remade`: the action kinds whose object, made again, starts with nothing on it
        (an import, a folder's create): what its children wrote is written again."""
        super().__init__(source, inv, ledger, options, selectors)
        self.filtered = bool(options.include or options.exclude)
        self.remade = frozenset(remade)

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
            self.actions[p].writes and self.actions[p].kind in self.remade
            for p in parents
            if p in self.actions
        )

    def restores(self, create: str) -> bool:
        """Whether the object of the create action `create` is this restore's: this plan
        makes or adopts it, or an earlier run of this restore did (its ledger record)."""
        action = self.actions.get(create)
        return action is not None and (action.writes or action.adopt or create in self.ledger)
