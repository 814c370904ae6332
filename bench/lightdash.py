"""Lightdash benchmark: requests per chart for backup (full and incremental) and restore.

    python bench/lightdash.py [--charts 210] [--validate] [--version 1.219.0]

A generated staging project (`--charts` charts, a dashboard per four, a space per ten, a
scheduler per twelve) is backed up from a fake Lightdash, twice; the snapshot is then
restored into a standby instance (other uuids) and restored again. Figures printed, per
chart: requests of each backup and of the restore (plan reads and apply writes apart), the
second restore's writes (target 0), and the wall time of each step. The fakes run without
a rate limit (Lightdash documents none), with schema validation off unless `--validate`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.logging import configure_logging
from omnimigrate.platforms.lightdash.fake import scenario as sc
from omnimigrate.platforms.lightdash.fake.server import FakeLightdash, LightdashSettings
from omnimigrate.platforms.lightdash.platform import client_pool
from omnimigrate.snapshot.store import LocalStore

UNLIMITED = 1_000_000


async def main(charts: int, validate: bool, version: str) -> None:
    spec = sc.ScenarioSpec(charts=charts, dashboards=charts // 4, spaces=max(3, charts // 10),
                           schedulers=max(2, charts // 12))  # fmt: skip
    scenario = sc.generate(spec)
    spare = sc.standby(scenario.state)
    settings = LightdashSettings(validate=validate, nested_spaces=True, version=version)
    source, target = FakeLightdash(scenario.state, settings), FakeLightdash(spare.state, settings)
    await source.start()
    await target.start()
    print(f"Lightdash {version}; staging: {charts} charts, {spec.dashboards} dashboards, {spec.spaces} spaces, "
          f"{spec.schedulers} schedulers; validation {'on' if validate else 'off'}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        store = LocalStore(Path(folder) / "store", create=True)
        for label in ("full backup", "incremental backup"):
            before, start = len(source.log.records), time.monotonic()
            async with client_pool(
                source.url, [scenario.token], rate_limit=UNLIMITED, project="Staging"
            ) as cs:
                outcome = await run_backup(
                    cs, store, BackupOptions(), cache_dir=Path(folder) / "cache"
                )
            sent = len(source.log.records) - before
            print(
                f"{label}: {sent} requests, {sent / charts:.2f} per chart, {outcome.exports} "
                f"downloads, {time.monotonic() - start:.1f} s"
            )
        snap = open_snapshot(store, "latest")
        async with client_pool(target.url, [spare.token], rate_limit=UNLIMITED) as cs:
            for label in ("restore", "second restore"):
                reads, start = len(target.log.records), time.monotonic()
                plan = await plan_restore(snap, cs, RestoreOptions())
                writes = len(target.log.records)
                await apply_plan(snap, plan, cs)
                applied = target.log.records[writes:]
                posted = sum(1 for r in applied if r.method != "GET")
                print(
                    f"{label}: plan {writes - reads} reads ({(writes - reads) / charts:.2f} per chart), "
                    f"apply {len(applied)} requests ({len(applied) / charts:.2f} per chart), "
                    f"{posted} writes, {time.monotonic() - start:.1f} s"
                )
    await source.stop()
    await target.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=210)
    parser.add_argument("--validate", action="store_true")
    parser.add_argument(
        "--version", default="0.1471.0", help="the fake's release: 0.1471.0 or 1.219.0"
    )
    args = parser.parse_args()
    configure_logging(level="warning", fmt="json")
    asyncio.run(main(args.charts, args.validate, args.version))
