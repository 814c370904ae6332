"""A drill of the demo's standby at the demo's rate limit, in real time: the measured RTO
(the apply's wall time) against the plan's estimate, and the share between them.

    python bench/drill.py [--documents 60] [--rate-limit 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from omnimigrate.cli.demo import omni_fakes
from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.engine.drill import Drill
from omnimigrate.engine.restore import open_snapshot
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.store import LocalStore


async def main(documents: int, rate: int) -> None:
    fakes = omni_fakes(documents, rate)
    await fakes.source.start()
    await fakes.target.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            store = LocalStore(Path(folder) / "store")
            async with fakes.pool(fakes.source.url, [fakes.source_token], rate_limit=rate) as cs:
                await run_backup(cs, store, BackupOptions(), cache_dir=Path(folder) / "cache")
            snap = open_snapshot(store, "latest")
            catalog = Catalog(store)
            manifest = catalog.load(catalog.resolve("latest"))
            drill = Drill(snap, manifest, fakes.options, rate=rate, period=60.0)
            async with fakes.pool(fakes.target.url, [fakes.target_token], rate_limit=rate) as cs:
                report, _ = await drill.run(cs)
    finally:
        await fakes.source.stop()
        await fakes.target.stop()
    r = report.restore
    share = (r.wall_seconds - r.estimate_seconds) / r.estimate_seconds * 100
    print(
        f"{documents} documents at {rate}/min: RTO {r.wall_seconds:.2f} s, plan's estimate "
        f"{r.estimate_seconds:.2f} s ({r.estimate_requests} requests), {share:+.1f} %, "
        f"{'within' if r.within_tolerance else 'outside'} 25 %; fidelity "
        f"{report.fidelity_percent:.2f} %, {len(report.content.new)} new content issues"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=60)
    parser.add_argument("--rate-limit", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(main(args.documents, args.rate_limit))
