"""Prune and garbage collection: forget snapshots by retention rules, then delete blobs no
remaining manifest references.

GC is safe beside a running backup: a blob is deleted only when unreferenced *and* older than
a grace period, so blobs an in-progress snapshot has just written (or rewritten) survive; the
blobs a backup reuses without writing belong to the instance's newest snapshot, which prune
never deletes. A backup resumed after a GC checks its earlier blobs still exist.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from omnimigrate.snapshot.blobs import REF
from omnimigrate.snapshot.catalog import Catalog, SnapshotRef
from omnimigrate.snapshot.retention import Candidate, RetentionRules, select
from omnimigrate.snapshot.store import KeyNotFound, Store

GC_MARK = "gc/last.json"


@dataclass
class PruneReport:
    kept: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # instance -> id -> why
    forgotten: list[SnapshotRef] = field(default_factory=list)
    blobs_deleted: int = 0
    blobs_kept: int = 0
    dry_run: bool = False


def last_gc(store: Store) -> float:
    try:
        return float(json.loads(store.get(GC_MARK))["at"])
    except KeyNotFound:
        return 0.0


def prune(
    store: Store,
    rules: RetentionRules,
    *,
    instance: str | None = None,
    dry_run: bool = False,
    grace_seconds: float = 6 * 3600,
    clock: Callable[[], float] = time.time,
) -> PruneReport:
    catalog = Catalog(store)
    report = PruneReport(dry_run=dry_run)
    manifests = {ref: catalog.load(ref) for ref in catalog.refs()}
    for name in sorted({r.instance for r in manifests if instance in (None, r.instance)}):
        mine = {r: m for r, m in manifests.items() if r.instance == name}
        candidates = [
            Candidate(r.snapshot_id, m.started_at, m.status == "complete") for r, m in mine.items()
        ]
        kept = select(candidates, rules)
        report.kept[name] = kept
        report.forgotten += [r for r in mine if r.snapshot_id not in kept]
    if dry_run:
        return report
    log = structlog.get_logger("omnimigrate.prune")
    for ref in report.forgotten:
        store.delete(ref.key)
        log.info("prune.forget", instance=ref.instance, snapshot=ref.snapshot_id)
    referenced = {
        o.blob
        for ref, m in manifests.items()
        if ref not in report.forgotten
        for o in m.objects
        if o.blob
    }
    store.put(GC_MARK, json.dumps({"at": clock()}).encode())
    cutoff = clock() - grace_seconds
    for key, modified in list(store.list_times("blobs/")):
        name = key.rsplit("/", 1)[-1]
        if REF.match(name) and name not in referenced and modified < cutoff:
            store.delete(key)
            report.blobs_deleted += 1
        else:
            report.blobs_kept += 1
    log.info("prune.gc", deleted=report.blobs_deleted, kept=report.blobs_kept)
    return report
