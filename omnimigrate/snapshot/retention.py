"""Which snapshots to keep: restic's `forget --keep-*` rules, per source instance. Pure.

Each rule walks the snapshots newest first and keeps the newest one of each period (hour,
day, ISO week, month) until it has kept N periods; `keep_last` keeps the N newest. A snapshot
is kept when any rule keeps it, and the newest complete snapshot of an instance is always
kept, whatever the rules say.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

PERIODS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
}


class RetentionRules(BaseModel):
    keep_last: int = Field(default=0, ge=0)
    keep_hourly: int = Field(default=0, ge=0)
    keep_daily: int = Field(default=0, ge=0)
    keep_weekly: int = Field(default=0, ge=0)
    keep_monthly: int = Field(default=0, ge=0)

    @property
    def empty(self) -> bool:
        return not any(self.model_dump().values())


@dataclass(frozen=True)
class Candidate:
    snapshot_id: str
    taken_at: datetime
    complete: bool


def select(snapshots: list[Candidate], rules: RetentionRules) -> dict[str, list[str]]:
    """The snapshots to keep (of one instance), each with the rules that keep it."""
    newest_first = sorted(snapshots, key=lambda s: s.taken_at, reverse=True)
    keep: dict[str, list[str]] = {}
    for s in newest_first[: rules.keep_last]:
        keep.setdefault(s.snapshot_id, []).append("last")
    limits = {
        "hourly": rules.keep_hourly,
        "daily": rules.keep_daily,
        "weekly": rules.keep_weekly,
        "monthly": rules.keep_monthly,
    }
    for name, bucket in PERIODS.items():
        limit = limits[name]
        seen: set[tuple[int, ...]] = set()
        for s in newest_first:
            if len(seen) >= limit:
                break
            period = bucket(s.taken_at)
            if period not in seen:
                seen.add(period)
                keep.setdefault(s.snapshot_id, []).append(name)
    newest_complete = next((s for s in newest_first if s.complete), None)
    if newest_complete:
        keep.setdefault(newest_complete.snapshot_id, []).append("newest complete")
    return keep
