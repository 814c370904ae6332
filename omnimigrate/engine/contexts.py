"""What every platform's planner context shares: the actions planned so far, the ledger of
the restore's earlier runs, the options, and the rule every write follows first (its
parents'). A platform's `PlanContext` extends it with its own rules and what its handlers
read of the snapshot and the target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from omnimigrate.engine.plan import Action, Op, RestoreOptions
from omnimigrate.engine.restore_ledger import LedgerRecord

ViewT = TypeVar("ViewT")
InventoryT = TypeVar("InventoryT")
OptionsT = TypeVar("OptionsT", bound=RestoreOptions)  # the platform's own options
T = TypeVar("T")

LEFT_ALONE: Op = "skip"  # what follows a parent left alone (--on-conflict skip)


class PlanContext(Generic[ViewT, InventoryT, OptionsT]):
    def __init__(
        self,
        view: ViewT,
        inv: InventoryT,
        ledger: dict[str, LedgerRecord],
        options: OptionsT,
        selectors: dict[str, Any] | None = None,
    ) -> None:
        """`selectors`: the registry's, by the prefix of an --include/--exclude pattern."""
        self.view = view
        self.inv = inv
        self.ledger = ledger
        self.opt = options
        self.selectors = selectors or {}
        self.actions: dict[str, Action] = {}
        # action ids of what the selected objects name (`Handler.references`): with a
        # filter, a type planned before the ones that name it restores only these
        self.referenced: set[str] = set()
        self._once: dict[Callable[[Any], Any], Any] = {}

    def once(self, compute: Callable[[Any], T]) -> T:
        """What `compute` answers of this plan, worked out the first time it is asked (a
        type's selection, which the types planned after it read too)."""
        if compute not in self._once:
            self._once[compute] = compute(self)
        return self._once[compute]  # type: ignore[no-any-return]

    def add(self, action: Action) -> Action:
        self.actions[action.id] = action
        return action

    def mark(self, action: Action, op: Op, reason: str) -> Action:
        return self.add(action.model_copy(update={"op": op, "reason": reason}))

    def blocked(self, id_: str, kind: str, obj: str, reason: str) -> Action:
        return self.add(Action(id=id_, kind=kind, object=obj, op="blocked", reason=reason))

    def op_of(self, action: str | None) -> Op | None:
        return self.actions[action].op if action in self.actions else None

    def follow(self, action: Action, parents: Iterable[str]) -> tuple[Action, Action | None]:
        """The rule every write follows first: each of its parents in the plan becomes a
        dependency the applier waits for, and a write is blocked with a blocked parent and
        left alone with one left alone. Answers the action with its dependencies, and the
        decided action when a parent decided it (else None)."""
        deps = [p for p in dict.fromkeys(parents) if p in self.actions]
        action = action.model_copy(update={"depends_on": deps})
        for p in deps:
            parent = self.actions[p]
            if parent.op == "blocked":
                return action, self.mark(action, "blocked", f"blocked by {p}")
            if parent.op == "conflict":
                return action, self.mark(
                    action, LEFT_ALONE, f"{p} is left alone (--on-conflict skip)"
                )
        return action, None
