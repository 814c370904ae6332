"""The restore protocol, written once for every platform. A platform's handlers say what is
theirs (natural keys, how an object is created, what its server adds on its own); the rules
below say what a restore does with that, whatever the platform:

1. **Intent.** Before a create is sent the applier writes an intent to the ledger: the
   action, the object's natural key and its parent (`intent`). When the answer comes the
   handler records what was made (`created`), and when every step of the action is written,
   `done`. A kill between two requests leaves one of these three.
2. **Adoption.** A resumed plan that finds an object on the target under the natural key of
   an open intent (or the id the intent recorded) knows it is its own: the action is adopted
   and its remaining steps are finished (`claim`, `adopted`). Without an intent an object
   with that key is someone else's: a conflict, as ever.
3. **Side effects.** What a server adds on its own when it creates an object (`SideEffect`,
   declared by the handler) is undone in the same run by a reconcile action that waits for
   every write into that object (`reconcile_after`), since undoing it may cost the restoring
   key its access.
4. **Diffs.** Access is written as a diff of the target's shares and the snapshot's
   (`share_diff`): a faithful target costs no write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from omnimigrate.engine.plan import Action
from omnimigrate.engine.restore_ledger import LedgerRecord

Claim = Literal["absent", "ours", "foreign"]


def intent(action: Action) -> LedgerRecord:
    """What the applier writes before a create: enough to know the object again by its
    natural key after a kill, even if the create's answer was never read."""
    return LedgerRecord(
        status="started", digest=action.digest, key=action.object, parent=action.parent
    )


def created(action: Action, target: str, **detail: str) -> LedgerRecord:
    """What a handler writes as soon as a create answers, before its remaining steps."""
    return LedgerRecord(
        status="started",
        digest=action.digest,
        target=target,
        key=action.object,
        parent=action.parent,
        detail=detail,
    )


def open_intent(ledger: dict[str, LedgerRecord], action: Action) -> LedgerRecord | None:
    """The interrupted create of this very object, if there is one."""
    rec = ledger.get(action.id)
    if rec and rec.status == "started" and rec.key in (None, action.object):
        return rec
    return None


def made_here(ledger: dict[str, LedgerRecord], action_id: str) -> bool:
    """Whether this restore made the object of `action_id` (its record kept the intent's
    key): what hangs on it is this restore's to finish, never a conflict."""
    rec = ledger.get(action_id)
    return rec is not None and rec.key is not None


def claim(
    ledger: dict[str, LedgerRecord], action: Action, present: bool, target_id: str | None = None
) -> Claim:
    """Whose is the object a create would make: `absent` from the target, `ours` (an
    interrupted run of this restore made it: adopt it, finish it) or `foreign` (not made by
    this restore: the usual conflict rules). `target_id`: the id the target holds under the
    natural key, compared with the one the intent recorded, when it recorded one."""
    if not present:
        return "absent"
    rec = open_intent(ledger, action)
    if rec is None:
        return "foreign"
    if rec.target and target_id and rec.target != target_id:
        return "foreign"  # the key was taken by another object since
    return "ours"


def adopted(action: Action) -> Action:
    """An action whose object an interrupted run made: finished, never created again."""
    return action.model_copy(
        update={
            "op": "create",
            "adopt": True,
            "reason": "created by an interrupted run of this restore: its remaining steps are finished",
        }
    )


@dataclass(frozen=True)
class SideEffect:
    """What a server adds on its own when `cause` (an action kind) creates an object, and the
    action kind that undoes it (`reconcile`) once every write into the object is done.
    `plan(ctx, cause)` builds that action, through `reconcile_after`, in the platform's
    planner context."""

    cause: str
    what: str
    reconcile: str
    plan: Callable[[Any, Action], Action]
    # how deep the object is among its kind (a space's path length): a parent's reconcile
    # waits for its children's, so the deepest are planned first
    depth: Callable[[Action], int] = lambda _action: 0


class Planning(Protocol):
    """What `plan_reconciles` reads and writes of a platform's planner context."""

    actions: dict[str, Action]
    ledger: dict[str, LedgerRecord]

    def add(self, action: Action) -> Action: ...


def plan_reconciles(ctx: Planning, effect: SideEffect) -> None:
    """After everything else is planned, deepest objects first: a reconcile for each object
    of `effect.cause` whose effect may be there."""
    causes = [a for a in ctx.actions.values() if a.kind == effect.cause]
    for cause in sorted(causes, key=lambda a: -effect.depth(a)):
        if effects_pending(cause, ctx.ledger):
            ctx.add(effect.plan(ctx, cause))


def reconcile_after(
    effect: SideEffect,
    cause: Action,
    actions: Iterable[Action],
    inside: Callable[[Action], bool],
    params: dict[str, Any],
    have: dict[str, Any],
) -> Action:
    """The action that undoes `effect` on the object `cause` made, after `cause` and after
    every write of the plan into that object: what `inside` names (its content, its
    children, its shares) and what waits for any of those (a scheduler on its chart)."""
    within: dict[str, None] = {}  # in plan order
    for a in actions:
        if a.id != cause.id and (inside(a) or any(d in within for d in a.depends_on)):
            within[a.id] = None
    return Action(
        id=effects_id(cause.id),
        kind=effect.reconcile,
        object=cause.object,
        op="create",
        depends_on=[cause.id, *within],
        params=params,
        have=have,
        reason=f"undo {effect.what}",
    )


EFFECTS = ":effects"  # the id suffix of a reconcile


def effects_id(cause: str) -> str:
    """The reconcile's action id, by its cause's."""
    return cause + EFFECTS


def is_reconcile(action_id: str) -> bool:
    return action_id.endswith(EFFECTS)


def effects_pending(cause: Action, ledger: dict[str, LedgerRecord]) -> bool:
    """Whether what the server added when `cause` created its object may still be there: the
    plan creates it or adopts it, or an earlier run of this restore did and died before the
    reconcile was done."""
    if cause.op in ("blocked", "conflict"):
        return False
    if cause.op == "create" and (cause.writes or cause.adopt):
        return True
    undone = ledger.get(effects_id(cause.id))
    return cause.id in ledger and not (undone and undone.status == "done")


class ShareDiff(BaseModel):
    """The writes that make one object's shares the snapshot's: principal -> role to set, and
    the principals to remove."""

    grant: dict[str, str] = Field(default_factory=dict)
    revoke: list[str] = Field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.grant) + len(self.revoke)


def share_diff(have: dict[str, str], want: dict[str, str], *, remove: bool) -> ShareDiff:
    """Only the shares that differ: set where the role is missing or other; with `remove`
    (the object is ours, or overwritten), revoke what the snapshot does not have."""
    grant = {p: r for p, r in sorted(want.items()) if have.get(p) != r}
    revoke = sorted(set(have) - set(want)) if remove else []
    return ShareDiff(grant=grant, revoke=revoke)
