"""`snapshots verify`: re-read what a snapshot references and check it, like `restic check`."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from omnimigrate.snapshot.blobs import BlobError, BlobStore
from omnimigrate.snapshot.catalog import Catalog, SnapshotRef
from omnimigrate.snapshot.manifest import SnapshotFormatError


@dataclass
class Fault:
    snapshot: str
    where: str  # the manifest, or "type key"
    problem: str


@dataclass
class CheckReport:
    snapshots: int = 0
    blobs_checked: int = 0
    faults: list[Fault] = field(default_factory=list)


def check(
    catalog: Catalog,
    refs: list[SnapshotRef],
    blobs: BlobStore,
    *,
    subset: float = 1.0,
    rng: random.Random | None = None,
) -> CheckReport:
    """Validate each manifest and read every blob it names (each shared blob once); with
    `subset` < 1, a random share of the blobs."""
    rng = rng or random.Random()
    report = CheckReport()
    verdicts: dict[str, str | None] = {}
    for ref in refs:
        report.snapshots += 1
        try:
            manifest = catalog.load(ref)
        except SnapshotFormatError as exc:
            report.faults.append(Fault(ref.snapshot_id, "manifest", str(exc)))
            continue
        for entry in manifest.objects:
            if not entry.blob:
                continue
            if entry.blob not in verdicts:
                if subset < 1.0 and rng.random() >= subset:
                    continue
                verdicts[entry.blob] = _verdict(blobs, entry.blob)
                report.blobs_checked += 1
            if problem := verdicts[entry.blob]:
                report.faults.append(Fault(ref.snapshot_id, f"{entry.type} {entry.key}", problem))
    return report


def _verdict(blobs: BlobStore, ref: str) -> str | None:
    try:
        blobs.get(ref)
    except BlobError as exc:
        return str(exc)
    return None
