"""Shared by the backup tests: run a backup against a fake, and read what it captured."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from omnimigrate.engine.backup import BackupOptions, BackupOutcome, run_backup
from omnimigrate.platforms.omni.fake.server import FakeOmni
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.lock import Sleep
from omnimigrate.snapshot.manifest import Manifest
from omnimigrate.snapshot.store import Store
from tests.conftest import client_for

EXPORT_ROUTE = "/api/unstable/documents/{identifier}/export"


async def backup(
    fake: FakeOmni,
    store: Store,
    cache: Path,
    tokens: list[str],
    *,
    rate: int = 100_000,
    period: float = 1.0,
    heartbeat: Sleep = asyncio.sleep,
    **options: Any,
) -> BackupOutcome:
    clients = [client_for(fake, t, rate=rate, period=period) for t in tokens]
    try:
        opts = BackupOptions(retry_delay=0.01, **options)
        return await run_backup(clients, store, opts, cache_dir=cache, heartbeat=heartbeat)
    finally:
        for c in clients:
            await c.close()


def exported(fake: FakeOmni) -> list[str]:
    """Identifiers of successful export calls, in order."""
    return [p.split("/")[-2] for p in fake.log.paths("GET", EXPORT_ROUTE)]


def inventory(manifest: Manifest) -> set[tuple[str, str, str | None]]:
    return {(o.type, o.key, o.blob) for o in manifest.objects}


def blob_of(store: Store, manifest: Manifest, kind: str, key: str) -> Any:
    entry = next(o for o in manifest.objects if o.type == kind and o.key == key)
    assert entry.blob, f"{kind} {key} has no blob: {entry.warnings}"
    return BlobStore(store).get(entry.blob)
