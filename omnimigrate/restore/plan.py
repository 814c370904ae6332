"""A Plan is an ordered list of Actions, computed without I/O and applied later.

Every action has a stable id (the same object gives the same id in every run) and a digest
of what it would write, so the restore ledger can tell "already done, unchanged" from "the
snapshot changed since".
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from omnimigrate.restore.inventory import TargetInventory
from omnimigrate.snapshot.blobs import canonical_json

Op = Literal["create", "update", "skip", "conflict", "blocked"]
PLAN_FORMAT = 1


class Action(BaseModel):
    id: str
    kind: str
    object: str
    op: Op
    reason: str = ""
    depends_on: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    adopt: bool = False  # an interrupted run created it: record it as done, write nothing
    warning: str = ""  # applied, but something could not be carried over

    @computed_field  # type: ignore[prop-decorator]
    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json([self.kind, self.params])).hexdigest()[:16]

    @property
    def core_digest(self) -> str:
        """The digest of everything but the model: an import whose core is unchanged and
        whose model changed needs only update-model."""
        core = {k: v for k, v in self.params.items() if k not in ("base_model_id", "model")}
        return hashlib.sha256(canonical_json([self.kind, core])).hexdigest()[:16]

    @property
    def writes(self) -> bool:
        return self.op in ("create", "update") and not self.adopt

    @property
    def requests(self) -> int:
        """About how many requests applying this action costs (what the applier sends for
        its kind; a forced folder path or a retry adds more)."""
        if not self.writes:
            return 0
        p = self.params
        grant_calls = len({(g["role"], g["access_boost"]) for g in p.get("grants", [])})
        replaced = 1 if self.op == "update" else 0  # the old one is deleted first
        cost = {
            "folder.permissions": grant_calls,
            "document.permissions": grant_calls,
            "model.yaml": 1 + len(p.get("files", {})),  # its own layer read, then each file
            "document.import": 1 + replaced,
            "document.owner": 4,  # owner read, permit, transfer, revoke
            "schedule.create": 1 + bool(p.get("groups")) + bool(p.get("paused")) + replaced,
        }
        return cost.get(self.kind, 1)


class RestoreOptions(BaseModel):
    on_conflict: Literal["skip", "overwrite", "rename"] = "skip"
    include_deleted: bool = False
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    models: bool = False
    pause_schedules: bool = False
    create_missing_users: bool = False
    create_missing_groups: bool = False
    model_map: dict[str, str] = Field(default_factory=dict)  # source model id -> target id


class Plan(BaseModel):
    format: int = PLAN_FORMAT
    snapshot_id: str
    source_instance: str
    target_url: str
    created_at: datetime
    options: RestoreOptions
    inventory: TargetInventory
    actions: list[Action]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def inventory_digest(self) -> str:
        return self.inventory.digest()

    def counts(self) -> dict[str, int]:
        return dict(Counter(a.op for a in self.actions))

    def estimate(self, rate: int, period: float, keys: int) -> str:
        """The restore time this plan implies: writes are paced by the rate limit."""
        requests = sum(a.requests for a in self.actions)
        minutes = requests * period / (rate * keys) / 60
        return (
            f"about {requests} requests, about {minutes:.0f} minutes at "
            f"{rate * 60 / period:g}/min with {keys} key{'s' if keys != 1 else ''}"
        )

    def blocked(self) -> list[Action]:
        return [a for a in self.actions if a.op == "blocked"]
