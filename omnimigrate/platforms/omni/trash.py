"""Documents in the target's trash: what a restore of a deleted dashboard meets.

Omni's `DELETE /documents/{identifier}` moves a document to the trash, and the API has no
route to take it out again. Whether an import may reuse a trashed document's identifier is
not documented, so a plan for a trashed document says what it will do (`--trashed`):
import under the same identifier where Omni accepts it, else under a new one it names
(`identifiers.py`); `same` and `new` pick one, `fail` blocks it. A document restored under
a new identifier is found again through the restore ledger (`restored_as`), by plans and
by verify alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from omnimigrate.engine.action_ids import key_of
from omnimigrate.engine.plan import Action
from omnimigrate.engine.restore_ledger import LedgerRecord
from omnimigrate.platforms.omni.identifiers import new_identifier

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.planning import PlanContext

# Omni's 400 for an identifier it holds (DIGEST: PATCH document; the import's, issue 26)
IN_USE = "already in use"


class Held(Protocol):
    """What the trash rules read of the target inventory (the documents handler's part):
    the documents it holds live, and those in its trash, by identifier."""

    @property
    def documents(self) -> Mapping[str, object]: ...

    @property
    def trashed(self) -> Mapping[str, object]: ...


def restored_as(ledger: Mapping[str, LedgerRecord], inv: Held) -> dict[str, str]:
    """Source identifier -> the live identifier a restore imported it under, where that is
    another one (its own is in the trash, or gone): from the import records' targets, which
    the intent names before the import is sent."""
    out = {}
    for key, rec in ledger.items():
        ident = key_of(key, "document", "import")
        if (
            ident
            and rec.target
            and rec.target != ident
            and ident not in inv.documents
            and rec.target in inv.documents
        ):
            out[ident] = rec.target
    return out


def taken(inv: Held) -> set[str]:
    return set(inv.documents) | set(inv.trashed)


def plan_trashed(ctx: PlanContext[Any, Any], action: Action) -> Action:
    """The import of a document whose identifier the target's trash holds. The identifier it
    is imported under goes in `have`, not `params`: it comes of the target's side (its
    trash), so the digest of what the import writes is the same whichever one it took."""
    ident = action.params["identifier"]
    mode = ctx.opt.trashed
    where = "in the target's trash (deleted there)"
    if mode == "fail":
        return ctx.mark(action, "blocked", f"{where}: take it out of Omni's trash by hand, "
                        "or plan with --trashed same or --trashed new")  # fmt: skip
    new = _new_identifier(ctx, action)
    if mode == "same":
        reason, have = f"{where}: imported under the same identifier {ident}", {}
        warning = ""
    elif mode == "new":
        reason, have = f"{where}: imported under the new identifier {new}", {"as": new}
        warning = f"links that use {ident} break: the document's identifier becomes {new}"
    else:
        reason = f"{where}: imported under {ident} where Omni accepts it, else under {new}"
        have = {"fallback": new}
        warning = f"links that use {ident} break if it comes back as {new}"
    planned = action.model_copy(update={"reason": reason, "have": have, "warning": warning})
    return ctx.decide(planned, absent=True)


def _new_identifier(ctx: PlanContext[Any, Any], action: Action) -> str:
    """The one an interrupted run's intent named (its import may have been made), else the
    first free one."""
    ident = action.params["identifier"]
    rec = ctx.ledger.get(action.id)
    if rec and rec.status == "started" and rec.target and rec.target != ident:
        return rec.target
    return new_identifier(ident, taken(ctx.inv))


def plan_restored(
    ctx: PlanContext[Any, Any], action: Action, target: str, unchanged: bool
) -> Action:
    """The import of a document a restore brought back under another identifier, live
    (`unchanged`: the snapshot has the document and its model as that import wrote them)."""
    rec = ctx.ledger[action.id]
    have = {"as": target}
    if rec.status == "started":
        return ctx.add(action.model_copy(update={
            "op": "skip", "adopt": True, "have": have,
            "reason": f"imported as {target} by an interrupted run: its remaining steps are finished",
        }))  # fmt: skip
    if unchanged:
        return ctx.mark(
            action.model_copy(update={"have": have}),
            "skip",
            f"restored earlier as {target}: unchanged since",
        )
    return ctx.mark(action.model_copy(update={"have": have}), "conflict",
                    f"restored earlier as {target}, and the snapshot changed since: delete "
                    f"{target} on the target to import it again")  # fmt: skip
