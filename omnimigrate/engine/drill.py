"""A disaster-recovery drill: restore a snapshot into a standby, verify it, run the content
checks, and keep the evidence (`drill.json`, `drill.html`) in the store next to the snapshot.

The figures an auditor asks for: how old the restored data was (RPO: the drill's start less
the snapshot's end), how long the restore took (RTO: the apply's wall time) next to what the
plan estimated, the requests and 429s per key, the fidelity per object type with every
difference named, the blocked actions and which were acknowledged, and the content the
restore broke (new), found broken (carried) or cured (fixed). The schema is `DrillReport`,
documented in docs/drill-format.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, Field

from omnimigrate.engine.apply import ApplyResult
from omnimigrate.engine.content import ContentReport
from omnimigrate.engine.plan import Plan, RestoreOptions
from omnimigrate.engine.restore import (
    OpenSnapshot,
    apply_plan,
    open_snapshot,
    options_for,
    plan_restore,
)
from omnimigrate.engine.verify import VerifyReport
from omnimigrate.http.transport import key_stats
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.crypto import Cipher
from omnimigrate.snapshot.manifest import KeyStats, Manifest, key_segment
from omnimigrate.snapshot.store import Store

DRILL_FORMAT = 1
RTO_TOLERANCE = 0.25  # a measured restore within 25 % of the plan's estimate


class RestoreFigures(BaseModel):
    ran: bool  # False: the drill took a restore that had just run (`--restored`)
    started_at: datetime
    finished_at: datetime
    plan_seconds: float  # reading the target and planning
    wall_seconds: float  # applying the plan: the RTO
    estimate_seconds: float  # the plan's estimate at the target's rate limit and keys
    estimate_requests: int
    rate_limit: int  # requests per minute per key
    key_count: int
    within_tolerance: bool  # wall time within RTO_TOLERANCE of the estimate
    counts: dict[str, int] = Field(default_factory=dict)  # done, skipped, failed, blocked


class TypeFidelity(BaseModel):
    checked: int
    matching: int
    percent: float
    differences: list[str] = Field(default_factory=list)
    extras: list[str] = Field(default_factory=list)


class BlockedAction(BaseModel):
    id: str
    detail: str
    acknowledged: bool


class DrillReport(BaseModel):
    """`drill.json`: the evidence of one drill (docs/drill-format.md)."""

    format: int = DRILL_FORMAT
    drill_id: str
    platform: str
    instance: str  # the store's name of the snapshot's instance
    source_url: str
    target_url: str
    snapshot_id: str
    snapshot_finished_at: datetime
    started_at: datetime
    finished_at: datetime
    rpo_seconds: float
    restore: RestoreFigures
    keys: dict[str, KeyStats] = Field(default_factory=dict)  # the target's, whole drill
    fidelity: dict[str, TypeFidelity] = Field(default_factory=dict)
    fidelity_percent: float
    blocked: list[BlockedAction] = Field(default_factory=list)
    content: ContentReport

    @property
    def ok(self) -> bool:
        """Nothing differs, no content broke, nothing blocked that nobody acknowledged."""
        return (
            all(t.matching == t.checked for t in self.fidelity.values())
            and self.content.ok
            and all(b.acknowledged for b in self.blocked)
            and not self.restore.counts.get("failed")
        )

    @property
    def rto_seconds(self) -> float:
        return self.restore.wall_seconds


def is_acknowledged(action_id: str, patterns: Iterable[str]) -> bool:
    """Does one of `patterns` (action ids or globs) acknowledge this blocked action?"""
    return any(fnmatchcase(action_id, p) for p in patterns)


def open_drilled(
    store: Store, snapshot: str, instance: str | None, cipher: Cipher | None = None
) -> tuple[OpenSnapshot, Manifest]:
    """The snapshot a drill restores and its manifest, `latest` resolved once: a backup that
    commits meanwhile does not change which snapshot the evidence names."""
    catalog = Catalog(store)
    ref = catalog.resolve(snapshot, instance)
    return open_snapshot(store, ref.snapshot_id, ref.instance, cipher), catalog.load(ref)


def within_tolerance(measured: float, estimate: float, tolerance: float = RTO_TOLERANCE) -> bool:
    """Is a measured restore time within `tolerance` (a share) of the plan's estimate? An
    estimate of nothing holds only for a restore that took (about) nothing: under a second."""
    if estimate <= 0:
        return measured < 1.0
    return abs(measured - estimate) <= tolerance * estimate


def estimate_seconds(plan: Plan[Any, Any], rate: int, period: float, keys: int) -> float:
    """What the plan's estimate says the writes take: paced by the rate limit per key."""
    return plan.estimated_requests() * period / (rate * keys)


def fidelity_of(report: VerifyReport) -> dict[str, TypeFidelity]:
    return {
        kind: TypeFidelity(
            checked=t.checked,
            matching=t.matching,
            percent=round(t.percent, 2),
            differences=list(t.differences),
            extras=list(t.extras),
        )
        for kind, t in report.types.items()
    }


def overall_percent(fidelity: dict[str, TypeFidelity]) -> float:
    checked = sum(t.checked for t in fidelity.values())
    matching = sum(t.matching for t in fidelity.values())
    return round(100.0 * matching / checked, 2) if checked else 100.0


class Drill:
    """One drill's run. `clock` measures durations (monotonic), `now` stamps times: both
    injected so a test can run a drill at a real rate limit without waiting for it."""

    def __init__(
        self,
        snap: OpenSnapshot,
        manifest: Manifest,
        options: RestoreOptions,
        *,
        rate: int,
        period: float,
        acknowledged: Callable[[str], bool] = lambda _id: False,
        concurrency: int = 4,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.snap, self.manifest = snap, manifest
        self.options = options_for(snap.platform, options)
        self.rate, self.period, self.concurrency = rate, period, concurrency
        self.acknowledged, self.clock, self.now = acknowledged, clock, now

    async def run(
        self, clients: Sequence[Any], restored: RestoreFigures | None = None
    ) -> tuple[DrillReport, ApplyResult | None]:
        """Restore (unless `restored` gives the figures of a restore that just ran), then
        verify and check the content, all on `clients` (the target's keys)."""
        started = self.now()
        result = None
        if restored is None:
            restored, result = await self.restore(clients)
        platform = self.snap.platform
        # what the restore's options make its verify expect, in the platform's verify options
        expected = platform.verify_options_type.of_restore(self.options)
        verify = await platform.verify(
            self.snap.source,
            clients,
            expected,
            concurrency=self.concurrency,
            store=self.snap.store,
        )
        content = await platform.check_content(self.snap.source, clients, self.options)
        fidelity = fidelity_of(verify)
        blocked = (
            []
            if result is None
            else [
                BlockedAction(
                    id=k, detail=result.outcomes[k].detail, acknowledged=self.acknowledged(k)
                )
                for k in result.by_status("blocked")
            ]
        )
        finished = self.now()
        m = self.manifest
        report = DrillReport(
            drill_id=drill_id(started),
            platform=platform.name,
            instance=m.instance,
            source_url=m.source_url,
            target_url=clients[0].base_url,
            snapshot_id=m.snapshot_id,
            snapshot_finished_at=m.finished_at,
            started_at=started,
            finished_at=finished,
            rpo_seconds=round((started - m.finished_at).total_seconds(), 3),
            restore=restored,
            keys=key_stats(clients),
            fidelity=fidelity,
            fidelity_percent=overall_percent(fidelity),
            blocked=blocked,
            content=content,
        )
        return report, result

    async def restore(self, clients: Sequence[Any]) -> tuple[RestoreFigures, ApplyResult]:
        started, t0 = self.now(), self.clock()
        plan = await plan_restore(self.snap, clients, self.options, now=self.now)
        t1 = self.clock()
        result = await apply_plan(self.snap, plan, clients, concurrency=self.concurrency)
        wall = self.clock() - t1
        estimate = estimate_seconds(plan, self.rate, self.period, len(clients))
        figures = RestoreFigures(
            ran=True,
            started_at=started,
            finished_at=self.now(),
            plan_seconds=round(t1 - t0, 3),
            wall_seconds=round(wall, 3),
            estimate_seconds=round(estimate, 3),
            estimate_requests=plan.estimated_requests(),
            rate_limit=round(self.rate * 60 / self.period),
            key_count=len(clients),
            within_tolerance=within_tolerance(wall, estimate),
            counts={s: len(result.by_status(s)) for s in ("done", "skipped", "failed", "blocked")},
        )
        return figures, result


def drill_id(started: datetime) -> str:
    return started.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def drill_prefix(instance: str, snapshot_id: str) -> str:
    """Where a snapshot's drills live: beside its manifest, one folder per drill."""
    return f"snapshots/{instance}/{snapshot_id}/drills/"


def save_drill(store: Store, report: DrillReport, html: str) -> str:
    """Writes drill.json and drill.html; returns the drill's folder in the store."""
    folder = drill_prefix(report.instance, report.snapshot_id) + key_segment(report.drill_id, "d")
    store.put(f"{folder}/drill.json", report.model_dump_json(indent=1).encode())
    store.put(f"{folder}/drill.html", html.encode())
    return folder


def list_drills(store: Store, instance: str | None = None) -> list[DrillReport]:
    """Every drill the store holds (of `instance`), oldest first; a pruned snapshot's drills
    stay, since the evidence outlives the snapshot it was made from."""
    reports = []
    for key in store.list(f"snapshots/{instance}/" if instance else "snapshots/"):
        parts = key.split("/")
        if len(parts) == 6 and parts[3] == "drills" and parts[5] == "drill.json":
            reports.append(DrillReport.model_validate_json(store.get(key)))
    return sorted(reports, key=lambda r: r.started_at)
