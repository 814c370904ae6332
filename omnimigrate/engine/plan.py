"""A Plan is an ordered list of Actions, computed without I/O and applied later.

Every action has a stable id (the same object gives the same id in every run) and a digest
of what it would write, so the restore ledger can tell "already done, unchanged" from "the
snapshot changed since". The plan keeps the target inventory it was computed from, typed by
the platform (`Plan[TargetInventory, OmniRestoreOptions]`), so `restore --plan` can tell whether the target drifted.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, computed_field

from omnimigrate.snapshot.blobs import canonical_json

# `extra`: on the target only, and restore leaves it there (reported, never written)
Op = Literal["create", "update", "skip", "conflict", "blocked", "extra"]
PLAN_FORMAT = 2  # 2: options are the platform's own (1: Omni's, for every platform)


class Inventory(BaseModel):
    """What a target instance holds, by natural key: each platform's inventory extends this
    with one field per object type (a mapping from natural key to what restore compares).
    `WRITTEN_BY` names, per field, the kinds of action id a restore writes its keys with
    (`folders` -> `folder`: `folder:PATH…`), so a resumed plan can tell its own writes from
    someone else's."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {}

    url: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """An inventory made of parts (each a model with its own `WRITTEN_BY`) writes by
        what all of them declare."""
        super().__pydantic_init_subclass__(**kwargs)
        written: dict[str, str | tuple[str, ...]] = {}
        for base in reversed(cls.__mro__):
            written |= base.__dict__.get("WRITTEN_BY", {})
        cls.WRITTEN_BY = written

    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()

    def ledger_scope(self) -> str:
        """Which part of the instance restores into it share a ledger: "" for the whole
        instance; a platform whose restores go into parts of one (Lightdash's projects)
        names the part, so two of them never read each other's ledger."""
        return ""

    def differences(
        self,
        other: Inventory,
        written: frozenset[str] | set[str] = frozenset(),
        made: frozenset[str] | set[str] = frozenset(),
    ) -> list[str]:
        """What changed between two inventories, per object type (for drift messages),
        leaving out the keys whose action ids (or a step of them) are in `written`, and the
        objects whose id or key is one `made` (a restore's own object, which may stand at a
        key of its own: a folder stepped aside to a temporary path, a document imported
        under a new identifier)."""
        changes = []
        mine, theirs = self.model_dump(mode="json"), other.model_dump(mode="json")
        for field, value in mine.items():
            if isinstance(value, dict) and value != theirs.get(field):
                kinds = self.WRITTEN_BY.get(field, ())
                kinds = (kinds,) if isinstance(kinds, str) else kinds
                ours = {
                    k
                    for k in set(value) | set(theirs[field])
                    if any(f"{kind}:{k}" in written for kind in kinds)
                    or k in made  # keyed by what the restore made (an identifier it chose)
                    or _id_of(theirs[field].get(k)) in made
                    or _id_of(value.get(k)) in made
                }
                new = sorted(set(theirs[field]) - set(value) - ours)
                gone = sorted(set(value) - set(theirs[field]) - ours)
                changed = sorted(
                    k
                    for k in (set(value) & set(theirs[field])) - ours
                    if value[k] != theirs[field][k]
                )
                if not (new or gone or changed):
                    continue
                parts = (
                    [f"+{k}" for k in new[:3]]
                    + [f"-{k}" for k in gone[:3]]
                    + [f"~{k}" for k in changed[:3]]
                )
                changes.append(f"{field}: {', '.join(parts)}")
        return changes


def _id_of(entry: object) -> str | None:
    """The target id an inventory entry carries, if it carries one."""
    found = entry.get("id") if isinstance(entry, dict) else entry
    return found if isinstance(found, str) else None


InventoryT = TypeVar("InventoryT", bound=Inventory)


class Action(BaseModel):
    id: str
    kind: str
    object: str
    op: Op
    reason: str = ""
    depends_on: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    adopt: bool = False  # an interrupted run created it: finish its remaining steps
    parent: str | None = None  # the natural key of what holds it (a folder's, a space's)
    # the target's side when planned, a diff's base (shares): not in the digest, which is
    # what the action writes, so a resumed plan's action is still the one reviewed
    have: dict[str, Any] = Field(default_factory=dict)
    warning: str = ""  # applied, but something could not be carried over
    requests: int = 0  # about how many requests applying it costs (the planner fills it in)

    @computed_field  # type: ignore[prop-decorator]  # pydantic documents it on a property; mypy flags any decorator there
    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json([self.kind, self.params])).hexdigest()[:16]

    @property
    def writes(self) -> bool:
        return self.op in ("create", "update") and not self.adopt


class RestoreOptions(BaseModel):
    """The restore options every platform takes. A platform declares its own as a subclass
    (its `options_type`: Omni's `OmniRestoreOptions`, Lightdash's `LightdashRestoreOptions`),
    and an option it does not declare is refused, never ignored."""

    model_config = ConfigDict(extra="forbid")
    # why it does not take an option another platform's restore does, for the refusal
    WHY_NOT: ClassVar[dict[str, str]] = {}

    on_conflict: Literal["skip", "overwrite", "rename"] = "skip"
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


OptionsT = TypeVar("OptionsT", bound=RestoreOptions)


class Plan(BaseModel, Generic[InventoryT, OptionsT]):
    format: int = PLAN_FORMAT
    platform: str
    snapshot_id: str
    source_instance: str
    target_url: str
    created_at: datetime
    options: OptionsT
    inventory: InventoryT
    actions: list[Action]

    def counts(self) -> dict[str, int]:
        return dict(Counter(a.op for a in self.actions))

    def estimate(self, rate: int, period: float, keys: int) -> str:
        """The restore time this plan implies: writes are paced by the rate limit."""
        requests = self.estimated_requests()
        minutes = round(requests * period / (rate * keys) / 60)
        took = "under a minute" if minutes < 1 else f"about {minutes} minute{'s' * (minutes != 1)}"
        return (
            f"about {requests} requests, {took} at "
            f"{rate * 60 / period:g}/min with {keys} key{'s' if keys != 1 else ''}"
        )

    def estimated_requests(self) -> int:
        return sum(a.requests for a in self.actions if a.writes)

    def blocked(self) -> list[Action]:
        return [a for a in self.actions if a.op == "blocked"]


class PlanFileError(Exception):
    """A saved plan that cannot be applied; the message says why and what to do."""


def plan_platform(text: str, name: str) -> str:
    """The platform a saved plan was made for, read before the plan itself (its inventory
    is the platform's own type)."""
    try:
        raw = json.loads(text)
    except ValueError:
        raise PlanFileError(f"{name} is not JSON") from None
    platform = raw.get("platform") if isinstance(raw, dict) else None
    if not isinstance(platform, str):
        raise PlanFileError(
            f"{name} does not say which platform it is for (made by an older omnimigrate?)"
        )
    if raw.get("format") != PLAN_FORMAT:
        raise PlanFileError(
            f"{name} is a plan of format {raw.get('format')!r}, and this omnimigrate reads "
            f"format {PLAN_FORMAT} (its options are the platform's own)"
        )
    return platform
