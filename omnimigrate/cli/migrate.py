"""`omnimigrate migrate`: back up one instance, then restore that snapshot into another."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from omnimigrate.cli.app import AppContext, cli, preflight
from omnimigrate.cli.options import (
    project_option,
    report_option,
)
from omnimigrate.cli.progress import job_progress, make_console
from omnimigrate.cli.stores import cipher_for, store_for, writable_cache
from omnimigrate.cli.target import (
    Acknowledged,
    RestoreFlags,
    Target,
    TargetFlags,
    accept_blocked_option,
    exit_code,
    print_result,
    restore_into,
    restore_options,
    write_report,
)
from omnimigrate.config import instance_for, resolve_tokens
from omnimigrate.engine.apply import ApplyResult
from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.engine.plan import Plan
from omnimigrate.engine.restore import open_snapshot


def without_snapshot(func: Callable[..., Any]) -> Callable[..., Any]:
    """restore's options but --snapshot and --instance: migrate restores its own backup."""
    return restore_options(func, snapshot=False)


@cli.command("migrate")
@click.option("--source", required=True, help="Source instance URL or config name.")
@click.option(
    "--source-token-env",
    multiple=True,
    help="Env var with a source API key (repeatable: each key gets its own rate limit; "
    "default OMNI_SOURCE_TOKEN, or the config's `token_env`).",
)
@project_option("source_project", "--source-project", "The project to back up")
@without_snapshot
@report_option
@accept_blocked_option
@click.pass_obj
def migrate_command(app: AppContext, source: str, source_token_env: tuple[str, ...], source_project: str | None,
                    report: Path | None, accept_blocked: Path | None, where: TargetFlags, flags: RestoreFlags) -> None:  # fmt: skip
    """Back up SOURCE, then restore that snapshot into TARGET."""
    accepted = Acknowledged(accept_blocked)
    src = instance_for(app.settings, source, list(source_token_env), "OMNI_SOURCE_TOKEN",
                       platform=where.platform, project=source_project)  # fmt: skip
    src_tokens = resolve_tokens(src.token_env, platform=src.platform)
    for t in src_tokens:
        app.redactor.add(t.get_secret_value())
    tgt = Target(app, where)
    options = tgt.options(flags)
    settings = app.settings
    preflight(app, src, src_tokens)
    tgt.preflight()
    cache = writable_cache(app)
    store = store_for(app, where.store, create=True)
    cipher = cipher_for(app, store, create=True)

    src_rate = settings.rate_limit_for(src, where.rate_limit)

    async def run() -> tuple[Plan, ApplyResult]:
        async with src.client_pool(
            src_tokens,
            rate_limit=src_rate,
            period=settings.rate_period,
            burst=settings.rate_burst,
            retry=settings.retry_policy(),
            sessions=app.sessions,
        ) as clients:
            per_second = src_rate * len(src_tokens) / settings.rate_period
            with job_progress("backup", per_second) as progress:
                outcome = await run_backup(
                    clients, store, BackupOptions(concurrency=tgt.concurrency),
                    cache_dir=cache, on_progress=progress, cipher=cipher,
                )  # fmt: skip
        m = outcome.manifest
        snap = await asyncio.to_thread(open_snapshot, store, m.snapshot_id, m.instance, cipher)
        return await restore_into(tgt, snap, options, None)

    plan, result = asyncio.run(run())
    write_report(report, plan, result)
    print_result(plan, result, make_console(), accepted)
    raise SystemExit(exit_code(result, accepted))
