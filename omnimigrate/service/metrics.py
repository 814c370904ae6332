"""Prometheus metrics, named like Velero's, on a registry owned by the process that serves or
pushes them (no module-level state)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, push_to_gateway

from omnimigrate.engine.apply import ApplyResult
from omnimigrate.engine.backup import BackupOutcome
from omnimigrate.engine.drill import DrillReport
from omnimigrate.http.transport import Observer

# the last drill's figures, each a gauge labelled by instance and target
DRILL_GAUGES = {
    "last_timestamp": "Unix time the last drill ended",
    "passed": "1 if the last drill passed (docs/drill-format.md), else 0",
    "fidelity_percent": "The last drill's fidelity, all object types",
    "rpo_seconds": "The last drill's RPO: the restored snapshot's age at its start",
    "rto_seconds": "The last drill's RTO: the restore's measured wall time",
    "rto_estimate_seconds": "The restore time the last drill's plan estimated",
    "new_content_issues": "Content issues the last drill's restore introduced",
    "blocked_unacknowledged": "Blocked actions of the last drill nobody acknowledged",
}


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.backup_success = Gauge(
            "omnimigrate_backup_last_successful_timestamp",
            "Unix time of the last complete backup",
            ["instance"],
            registry=r,
        )
        self.backup_duration = Gauge(
            "omnimigrate_backup_duration_seconds",
            "Duration of the last backup",
            ["instance"],
            registry=r,
        )
        self.restore_success = Gauge(
            "omnimigrate_restore_last_successful_timestamp",
            "Unix time of the last complete restore",
            ["target"],
            registry=r,
        )
        self.items = Counter(
            "omnimigrate_items_total",
            "Objects backed up or restored, by outcome",
            ["instance", "type", "outcome"],
            registry=r,
        )
        self.requests = Counter(
            "omnimigrate_requests_total",
            "Omni API requests",
            ["instance", "route", "status"],
            registry=r,
        )
        self.throttled = Counter(
            "omnimigrate_rate_limited_total", "Requests Omni answered 429", ["instance"], registry=r
        )
        self.rate_wait = Counter(
            "omnimigrate_rate_limit_wait_seconds_total",
            "Seconds spent waiting for the client-side rate limit",
            ["instance"],
            registry=r,
        )
        self.jobs = Gauge("omnimigrate_jobs", "Service jobs by state", ["state"], registry=r)
        self.snapshot_bytes = Gauge(
            "omnimigrate_snapshot_bytes",
            "Bytes of new blobs the last backup wrote",
            ["instance"],
            registry=r,
        )
        self._drill_types: dict[tuple[str, str], set[str]] = {}  # the last drill's, per pair
        self.drill_gauges = {
            name: Gauge(f"omnimigrate_drill_{name}", doc, ["instance", "target"], registry=r)
            for name, doc in DRILL_GAUGES.items()
        }
        self.drill_type_fidelity = Gauge(
            "omnimigrate_drill_type_fidelity_percent",
            "The last drill's fidelity of one object type",
            ["instance", "target", "type"],
            registry=r,
        )

    def observer(self, instance: str) -> Observer:
        def observe(route: str, status: int | str, waited: float) -> None:
            self.requests.labels(instance, route, str(status)).inc()
            if status == 429:
                self.throttled.labels(instance).inc()
            self.rate_wait.labels(instance).inc(waited)

        return observe

    def backup(self, instance: str, outcome: BackupOutcome, seconds: float) -> None:
        m = outcome.manifest
        self.backup_duration.labels(instance).set(seconds)
        self.snapshot_bytes.labels(instance).set(outcome.bytes_written)
        for kind, count in m.counts.items():
            self.items.labels(instance, kind, "captured").inc(count)
        for entry, _ in m.warnings:
            self.items.labels(instance, entry.type, "warning").inc()
        for failure in m.failures:
            self.items.labels(instance, failure.job, "failed").inc()
        if m.status == "complete":
            self.backup_success.labels(instance).set(m.finished_at.timestamp())

    def restore(self, target: str, result: ApplyResult) -> None:
        for outcome in result.outcomes.values():
            self.items.labels(target, "restore", outcome.status).inc()
        if result.complete:
            self.restore_success.labels(target).set(time.time())

    def drill(self, target: str, report: DrillReport) -> None:
        """The last drill of `report.instance` into `target`: figures, not history (each
        drill.json keeps its own)."""
        pair = (report.instance, target)
        figures = {
            "last_timestamp": report.finished_at.timestamp(),
            "passed": float(report.ok),
            "fidelity_percent": report.fidelity_percent,
            "rpo_seconds": report.rpo_seconds,
            "rto_seconds": report.rto_seconds,
            "rto_estimate_seconds": report.restore.estimate_seconds,
            "new_content_issues": len(report.content.new),
            "blocked_unacknowledged": sum(not b.acknowledged for b in report.blocked),
        }
        for name, value in figures.items():
            self.drill_gauges[name].labels(*pair).set(value)
        for gone in self._drill_types.get(pair, set()) - report.fidelity.keys():
            self.drill_type_fidelity.remove(*pair, gone)
        for kind, t in report.fidelity.items():
            self.drill_type_fidelity.labels(*pair, kind).set(t.percent)
        self._drill_types[pair] = set(report.fidelity)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def push(self, gateway: str, job: str) -> None:
        push_to_gateway(gateway, job=job, registry=self.registry)
