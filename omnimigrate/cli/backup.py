"""`omnimigrate backup`: one incremental, resumable snapshot of an instance."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import click
import structlog
from rich.table import Table

from omnimigrate.cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    AppContext,
    cli,
    describe_keys,
    preflight,
)
from omnimigrate.cli.options import (
    concurrency_option,
    instance_option,
    platform_option,
    project_option,
    rate_limit_option,
    report_option,
    store_option,
)
from omnimigrate.cli.progress import job_progress, make_console, titled
from omnimigrate.cli.stores import cipher_for, store_for, writable_cache
from omnimigrate.config import instance_for, resolve_tokens
from omnimigrate.engine.backup import BackupFailed, BackupOptions, BackupOutcome, run_backup
from omnimigrate.errors import ConfigError
from omnimigrate.service.events import new_run_id
from omnimigrate.service.metrics import Metrics


def backup_report(outcome: BackupOutcome) -> dict[str, object]:
    m = outcome.manifest
    return {
        "snapshot": m.snapshot_id,
        "instance": m.instance,
        "status": m.status,
        "resumed": outcome.resumed,
        "started_at": m.started_at.isoformat(),
        "finished_at": m.finished_at.isoformat(),
        "counts": m.counts,
        "exports": outcome.exports,
        "reused_exports": outcome.reused_exports,
        "jobs": {"done": outcome.jobs_done, "skipped_as_finished": outcome.jobs_skipped},
        "keys": {k: v.model_dump() for k, v in m.keys.items()},
        "warnings": [{"type": o.type, "key": o.key, "warning": w} for o, w in m.warnings],
        "failures": [f.model_dump() for f in m.failures],
    }


def counts_table(title: str | None, counts: dict[str, int], column: str = "count") -> Table:
    table = titled(title)
    table.add_column("object type")
    table.add_column(column, justify="right")
    for kind, count in counts.items():
        table.add_row(kind, str(count))
    return table


def print_outcome(outcome: BackupOutcome) -> None:
    m = outcome.manifest
    console = make_console()
    console.print(counts_table(f"snapshot {m.snapshot_id} of {m.instance}: {m.status}", m.counts))
    console.print(
        f"exports: {outcome.exports} requested, {outcome.reused_exports} unchanged and reused; "
        + describe_keys(m.keys)
    )
    for entry, warning in m.warnings:
        console.print(f"  warning {entry.type} {entry.key}: {warning}")
    for failure in m.failures:
        console.print(f"  [red]FAILED[/red] {failure.job} {failure.object}: {failure.error}")


@cli.command()
@click.option(
    "--source",
    default=None,
    help="Instance URL or name in the config file (Lightdash: default $LIGHTDASH_URL).",
)
@click.option(
    "--source-token-env",
    "token_env",
    multiple=True,
    help="Env var holding an API key (repeatable: jobs spread over the keys, each with its own "
    "rate limit; default OMNI_SOURCE_TOKEN, Lightdash: LIGHTDASH_API_KEY, or the config's "
    "`token_env`).",
)
@platform_option
@project_option("project", "--project", "The project to back up")
@store_option
@click.option(
    "--include",
    multiple=True,
    help="Omni only: folder-path glob to back up (repeatable; default: every folder).",
)
@click.option(
    "--exclude",
    multiple=True,
    help="Omni only: folder-path glob to leave out (repeatable; default: none).",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Omni only: commit a snapshot even when --include/--exclude match no folder or document.",
)
@rate_limit_option
@concurrency_option
@click.option("--full", is_flag=True, help="Export every document, even unchanged ones.")
@click.option(
    "--restart",
    is_flag=True,
    help="Discard this instance's open run (a killed backup's progress) and start a new "
    "snapshot (default: resume it).",
)
@instance_option("instance_name", "The store's name for the instance")
@report_option
@click.option(
    "--force-unlock", is_flag=True, help="Remove this instance's lock first (its run is gone)."
)
@click.pass_obj
def backup(
    app: AppContext,
    source: str | None,
    token_env: tuple[str, ...],
    platform: str | None,
    project: str | None,
    store: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    allow_empty: bool,
    rate_limit: int | None,
    concurrency: int | None,
    full: bool,
    restart: bool,
    instance_name: str | None,
    report: Path | None,
    force_unlock: bool,
) -> None:
    """Back up an instance into a snapshot (incremental; re-running resumes a killed run)."""
    settings = app.settings
    inst = instance_for(
        settings, source, list(token_env), "OMNI_SOURCE_TOKEN", platform=platform, project=project
    )
    if inst.platform == "lightdash" and (include or exclude):
        raise ConfigError(
            "a Lightdash backup takes no --include/--exclude (it backs up whole projects): "
            "choose the project with --project instead"
        )
    tokens = resolve_tokens(inst.token_env, platform=inst.platform)
    for token in tokens:
        app.redactor.add(token.get_secret_value())
    name = instance_name or (source if source in settings.instances else inst.store_name())
    options = BackupOptions(
        full=full,
        restart=restart,
        include=include,
        exclude=exclude,
        allow_empty=allow_empty,
        concurrency=concurrency or settings.concurrency,
        instance=name,
        retry_delay=settings.retry_base_delay * 2,
        lock_ttl=settings.lock_ttl,
        takeover_quiet=settings.rate_period,
        force_unlock=force_unlock,
    )
    preflight(app, inst, tokens)
    cache = writable_cache(app)
    target = store_for(app, store, create=True)
    cipher = cipher_for(app, target, create=True)

    metrics = Metrics()
    structlog.contextvars.bind_contextvars(run=new_run_id(), job="backup", instance=name)

    rate = settings.rate_limit_for(inst, rate_limit)

    async def run() -> BackupOutcome:
        async with inst.client_pool(
            tokens,
            rate_limit=rate,
            period=settings.rate_period,
            burst=settings.rate_burst,
            observer=metrics.observer(name),
            retry=settings.retry_policy(),
            timeout=settings.timeout,
            sessions=app.sessions,
        ) as clients:
            with job_progress("backup", rate * len(tokens) / settings.rate_period) as progress:
                return await run_backup(
                    clients,
                    target,
                    options,
                    cache_dir=cache,
                    on_progress=progress,
                    cipher=cipher,
                )

    start = time.monotonic()
    try:
        outcome = asyncio.run(run())
    except BackupFailed as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_FAILED) from None
    if report:
        report.write_text(json.dumps(backup_report(outcome), indent=2))
    if settings.service.pushgateway:  # a CronJob's metrics outlive its pod there
        metrics.backup(name, outcome, time.monotonic() - start)
        metrics.push(settings.service.pushgateway, job="omnimigrate-backup")
    print_outcome(outcome)
    raise SystemExit(EXIT_PARTIAL if outcome.manifest.failures else EXIT_OK)
