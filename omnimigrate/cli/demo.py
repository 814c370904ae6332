"""`omnimigrate demo`: the main job end to end on embedded defaults.

Starts two fake Omni instances on loopback (a seeded source org and an empty standby), backs
the source up into a local store twice (full, then incremental), and checks the fakes saw
only requests that conform to Omni's openapi.json. Restore extends this as it lands.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from omnimigrate.backup.engine import BackupOptions, BackupOutcome, run_backup
from omnimigrate.cli import EXIT_FAILED, EXIT_OK, AppContext, cli
from omnimigrate.fake.scenario import ScenarioSpec, generate
from omnimigrate.fake.server import FakeOmni, FakeSettings
from omnimigrate.fake.state import OrgState
from omnimigrate.omni.pool import client_pool
from omnimigrate.snapshot.store import LocalStore


@dataclass
class DemoResult:
    full: BackupOutcome
    incremental: BackupOutcome
    requests: int
    violations: list[str]


async def run_demo(documents: int, rate_limit: int, store_dir: Path) -> DemoResult:
    scenario = generate(ScenarioSpec(documents=documents))
    source = FakeOmni(scenario.state, FakeSettings(rate_limit=rate_limit))
    standby = FakeOmni(OrgState(), FakeSettings(rate_limit=rate_limit))
    url = await source.start()
    await standby.start()
    store = LocalStore(store_dir / "store")
    try:
        runs = []
        for _ in range(2):
            async with client_pool(url, [scenario.org_token], rate_limit=rate_limit) as clients:
                runs.append(
                    await run_backup(clients, store, BackupOptions(), cache_dir=store_dir / "cache")
                )
    finally:
        await source.stop()
        await standby.stop()
    violations = [str(v) for v in [*source.violations, *standby.violations]]
    return DemoResult(runs[0], runs[1], len(source.log.records), violations)


@cli.command()
@click.option("--documents", default=60, show_default=True, help="Documents in the generated org.")
@click.option(
    "--rate-limit",
    default=3000,
    show_default=True,
    help="The fakes' (and client's) limit per key and minute; Omni's default is 60.",
)
@click.option(
    "--store",
    "store_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep the store here (default: a temporary folder).",
)
@click.pass_obj
def demo(app: AppContext, documents: int, rate_limit: int, store_dir: Path | None) -> None:
    """Run the main job against fake Omni instances on this machine (no account needed)."""
    with tempfile.TemporaryDirectory(prefix="omnimigrate-demo-") as tmp:
        where = store_dir or Path(tmp)
        result = asyncio.run(run_demo(documents, rate_limit, where))
        console = Console()
        full, incremental = result.full.manifest, result.incremental.manifest
        table = Table(title=f"omnimigrate demo: backup of a generated org into {where / 'store'}")
        table.add_column("object type")
        table.add_column("captured", justify="right")
        for name, count in full.counts.items():
            table.add_row(name, str(count))
        console.print(table)
        console.print(
            f"full backup {full.snapshot_id}: {full.status}, {result.full.exports} exports, "
            f"{len(full.warnings)} warnings (documents Omni refuses to export)"
        )
        console.print(
            f"incremental backup {incremental.snapshot_id}: {incremental.status}, "
            f"{result.incremental.exports} exports, "
            f"{result.incremental.reused_exports} unchanged exports reused"
        )
        console.print(
            f"{result.requests} requests to the source, "
            f"{len(result.violations)} openapi.json violations"
        )
        for violation in result.violations:
            console.print(f"  violation: {violation}")
    raise SystemExit(EXIT_FAILED if result.violations else EXIT_OK)
