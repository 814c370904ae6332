"""`omnimigrate demo`: the main job end to end on embedded defaults.

Starts two fake instances on loopback (Omni's, or with `--platform lightdash` Lightdash's): a
source with a generated org, and a standby with the same users and groups (for Omni also
connections and models) under other ids and no content. Backs
the source up into a local store (full, then incremental), restores the snapshot into the
standby, restores again (which must write nothing), and verifies the standby against the
snapshot. Both fakes check every request against the platform's openapi.json.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from omnimigrate.cli.app import EXIT_FAILED, EXIT_OK, AppContext, cli
from omnimigrate.cli.backup import counts_table
from omnimigrate.cli.progress import make_console, reading
from omnimigrate.cli.verify import print_verify
from omnimigrate.engine.apply import ApplyResult
from omnimigrate.engine.backup import BackupOptions, BackupOutcome, run_backup
from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.engine.verify import VerifyReport
from omnimigrate.http.sessions import SessionFactory, open_session
from omnimigrate.platforms.lightdash.fake import scenario as ld_scenario
from omnimigrate.platforms.lightdash.fake.server import FakeLightdash, LightdashSettings
from omnimigrate.platforms.lightdash.platform import client_pool as ld_client_pool
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.options import OmniRestoreOptions
from omnimigrate.platforms.omni.pool import client_pool
from omnimigrate.snapshot.store import LocalStore


@dataclass
class DemoResult:
    full: BackupOutcome
    incremental: BackupOutcome
    restore: ApplyResult
    rerun_writes: int
    verify: VerifyReport
    requests: int
    violations: list[str]


@dataclass
class DemoFakes:
    """A platform's two fakes (a source with a generated org, a standby with the same people
    under other ids) and how to reach them."""

    source: Any
    target: Any
    source_token: str
    target_token: str
    pool: Callable[..., Any]  # the platform's client_pool
    scope: dict[str, str]  # what the clients select (Lightdash: the project)
    options: RestoreOptions


def omni_fakes(documents: int, rate_limit: int) -> DemoFakes:
    scenario = generate(ScenarioSpec(documents=documents))
    spare = standby(scenario.state)
    return DemoFakes(
        FakeOmni(scenario.state, FakeSettings(rate_limit=rate_limit)),
        FakeOmni(spare.state, FakeSettings(rate_limit=rate_limit)),
        scenario.org_token, spare.org_token, client_pool, {}, OmniRestoreOptions(models=True),
    )  # fmt: skip


def lightdash_spec(charts: int, seed: int = 7) -> ld_scenario.ScenarioSpec:
    """`charts` in the staging project, with a dashboard per four charts (also `fake serve`'s)."""
    return ld_scenario.ScenarioSpec(charts=charts, dashboards=max(1, charts // 4), seed=seed,
                                    spaces=max(3, charts // 10), schedulers=max(2, charts // 12))  # fmt: skip


def lightdash_fakes(documents: int, rate_limit: int) -> DemoFakes:
    """`documents`: charts in the staging project (with a dashboard per four charts)."""
    scenario = ld_scenario.generate(lightdash_spec(documents))
    spare = ld_scenario.standby(scenario.state)
    settings = LightdashSettings(rate_limit=rate_limit, nested_spaces=True)
    return DemoFakes(
        FakeLightdash(scenario.state, settings), FakeLightdash(spare.state, settings),
        scenario.token, spare.token, ld_client_pool, {"project": "Staging"}, RestoreOptions(),
    )  # fmt: skip


async def run_demo(
    documents: int,
    rate_limit: int,
    store_dir: Path,
    platform: str = "omni",
    sessions: SessionFactory = open_session,
) -> DemoResult:
    fakes = (lightdash_fakes if platform == "lightdash" else omni_fakes)(documents, rate_limit)
    source, target = fakes.source, fakes.target
    await source.start()
    await target.start()
    store = LocalStore(store_dir / "store")

    def phase(label: str):  # never silent: each step shows its requests as they go
        return reading(f"demo: {label}", lambda: len(source.log.records) + len(target.log.records))

    try:
        backups = []
        for label in ("full backup", "incremental backup"):
            async with (
                fakes.pool(
                    source.url,
                    [fakes.source_token],
                    rate_limit=rate_limit,
                    sessions=sessions,
                    **fakes.scope,
                ) as cs,
                phase(label),
            ):
                opts = BackupOptions()
                backups.append(await run_backup(cs, store, opts, cache_dir=store_dir / "cache"))
        snap = open_snapshot(store, "latest")
        pool = fakes.pool(
            target.url, [fakes.target_token], rate_limit=rate_limit, sessions=sessions
        )
        async with pool as cs:
            async with phase("restore into the standby"):
                restored = await apply_plan(snap, await plan_restore(snap, cs, fakes.options), cs)
            writes = len(target.log.writes())
            async with phase("second restore"):
                await apply_plan(snap, await plan_restore(snap, cs, fakes.options), cs)
            rerun_writes = len(target.log.writes()) - writes
            async with phase("verify"):
                expected = snap.platform.verify_options_type.of_restore(fakes.options)
                report = await snap.platform.verify(snap.source, cs, expected)
    finally:
        await source.stop()
        await target.stop()
    violations = [str(v) for v in [*source.violations, *target.violations]]
    requests = len(source.log.records) + len(target.log.records)
    return DemoResult(backups[0], backups[1], restored, rerun_writes, report, requests, violations)


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
    help="Keep the store and checkpoints here (default: a temporary folder in $TMPDIR, removed "
    "afterwards). Nothing else is written.",
)
@click.option(
    "--platform",
    type=click.Choice(["omni", "lightdash"]),
    default="omni",
    help="Which platform's fakes: with lightdash, --documents counts the staging project's charts.",
)
@click.pass_obj
def demo(
    app: AppContext, documents: int, rate_limit: int, store_dir: Path | None, platform: str
) -> None:
    """Back up a fake instance, restore it into a fake standby, and verify (no account needed)."""
    # with --store, no temporary folder at all: a read-only container needs no writable $TMPDIR
    keep = nullcontext(str(store_dir)) if store_dir else None
    with keep or tempfile.TemporaryDirectory(prefix="omnimigrate-demo-") as folder:
        where = Path(folder)
        result = asyncio.run(run_demo(documents, rate_limit, where, platform, app.sessions))
    console = make_console()
    full, incremental = result.full.manifest, result.incremental.manifest
    title = f"omnimigrate demo: backup of a generated org into {where / 'store'}"
    console.print(counts_table(title, full.counts, "captured"))
    console.print(
        f"full backup {full.snapshot_id}: {full.status}, {result.full.exports} exports, "
        f"{sum(1 for o, _ in full.warnings if not o.blob)} objects the source refuses to export, "
        f"{sum(1 for o, _ in full.warnings if o.blob)} objects flagged as holding secrets"
    )
    console.print(
        f"incremental backup {incremental.snapshot_id}: {incremental.status}, "
        f"{result.incremental.exports} exports, "
        f"{result.incremental.reused_exports} unchanged exports reused"
    )
    r = result.restore
    console.print(
        f"restore into the standby: {len(r.by_status('done'))} actions done, "
        f"{len(r.by_status('blocked'))} blocked, {len(r.by_status('failed'))} failed"
    )
    for key in r.by_status("blocked") + r.by_status("failed"):
        console.print(f"  {key}: {r.outcomes[key].detail}")
    console.print(f"second restore: {result.rerun_writes} write requests")
    print_verify(result.verify, console)
    console.print(
        f"{result.requests} requests in all, {len(result.violations)} openapi.json violations"
    )
    for violation in result.violations:
        console.print(f"  violation: {violation}")
    ok = not result.violations and result.verify.ok and not r.by_status("failed")
    raise SystemExit(EXIT_OK if ok and result.rerun_writes == 0 else EXIT_FAILED)
