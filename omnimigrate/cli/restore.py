"""`omnimigrate plan | restore | migrate | verify`: replay a snapshot into an instance."""

from __future__ import annotations

import asyncio
import functools
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from omnimigrate.cli import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, AppContext, cli, describe_keys
from omnimigrate.cli.progress import job_progress
from omnimigrate.cli.stores import cipher_for, store_for
from omnimigrate.config import ConfigError, InstanceConfig, instance_for, resolve_tokens
from omnimigrate.engine.apply import ApplyResult
from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.engine.plan import Plan, PlanFileError, RestoreOptions, plan_platform
from omnimigrate.engine.restore import (
    OpenSnapshot,
    PlanDrift,
    apply_plan,
    check_drift,
    open_snapshot,
    plan_restore,
)
from omnimigrate.engine.verify import VerifyReport
from omnimigrate.platforms import UnknownPlatform, platform_named
from omnimigrate.platforms.omni.pool import client_pool
from omnimigrate.platforms.omni.registry import explain_order
from omnimigrate.service.metrics import Metrics
from omnimigrate.snapshot.manifest import instance_slug

SYMBOLS = {"create": "+", "update": "~", "skip": "=", "conflict": "!", "blocked": "x"}


def load_model_map(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read --model-map {path}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(
            f"--model-map {path} must be a YAML mapping of source model id to target model id, "
            "for example `3f1c…: 9a2b…`"
        )
    return data


def restore_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command that plans a restore shares."""
    options = [
        click.option("--store", default=None, help="Folder or s3://bucket/prefix."),
        click.option("--snapshot", default="latest", show_default=True, help="Snapshot id or latest."),
        click.option("--source-instance", default=None, help="With latest: whose latest snapshot."),
        click.option("--target", required=True, help="Target instance URL or config name."),
        click.option("--target-token-env", multiple=True, help="Env var with a target org key (repeatable; default OMNI_TARGET_TOKEN)."),
        click.option("--on-conflict", type=click.Choice(["skip", "overwrite", "rename"]), default="skip", show_default=True),
        click.option("--include", multiple=True, help="Folder-path glob, label:NAME or document:IDENTIFIER (repeatable)."),
        click.option("--exclude", multiple=True, help="Same forms as --include."),
        click.option("--include-deleted", is_flag=True, help="Also restore documents that were in the source's trash."),
        click.option("--models", is_flag=True, help="Push model YAML to the mapped shared models."),
        click.option("--pause-schedules", is_flag=True, help="Create every schedule paused (DR drill)."),
        click.option("--create-missing-users", is_flag=True),
        click.option("--create-missing-groups", is_flag=True),
        click.option("--model-map", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
                     help="YAML: source-model-id: target-model-id."),
        click.option("--rate-limit", type=click.IntRange(min=1), default=None, help="Requests/minute per key."),
        click.option("--concurrency", type=click.IntRange(1, 64), default=None, help="Workers per key."),
    ]  # fmt: skip
    return functools.reduce(lambda f, opt: opt(f), reversed(options), func)


def build_options(kw: dict[str, Any]) -> RestoreOptions:
    return RestoreOptions(
        on_conflict=kw["on_conflict"],
        include=list(kw["include"]),
        exclude=list(kw["exclude"]),
        include_deleted=kw["include_deleted"],
        models=kw["models"],
        pause_schedules=kw["pause_schedules"],
        create_missing_users=kw["create_missing_users"],
        create_missing_groups=kw["create_missing_groups"],
        model_map=load_model_map(kw["model_map"]),
    )


class Target:
    """The target instance: its config, tokens (registered for redaction) and limits."""

    def __init__(
        self, app: AppContext, name: str, token_env: tuple[str, ...], kw: dict[str, Any]
    ) -> None:
        self.inst: InstanceConfig = instance_for(
            app.settings, name, list(token_env), "OMNI_TARGET_TOKEN"
        )
        self.tokens = resolve_tokens(self.inst.token_env)
        for t in self.tokens:
            app.redactor.add(t.get_secret_value())
        self.rate = kw.get("rate_limit") or self.inst.rate_limit or app.settings.rate_limit
        self.concurrency = kw.get("concurrency") or app.settings.concurrency
        self.app = app
        self.name = name if name in app.settings.instances else instance_slug(self.inst.url)
        self.metrics = Metrics()

    def pool(self):  # type: ignore[no-untyped-def]
        s = self.app.settings
        return client_pool(
            self.inst.url,
            self.tokens,
            rate_limit=self.rate,
            period=s.rate_period,
            burst=s.rate_burst,
            retry=s.retry_policy(),
            timeout=s.timeout,
            observer=self.metrics.observer(self.name),
        )

    def push_metrics(self, result: ApplyResult) -> None:
        """A one-shot restore's metrics go to the Pushgateway, when one is configured."""
        gateway = self.app.settings.service.pushgateway
        if gateway:
            self.metrics.restore(self.name, result)
            self.metrics.push(gateway, job="omnimigrate-restore")


def print_plan(plan: Plan, details: bool, console: Console, estimate: str) -> None:
    by_type: dict[str, list] = defaultdict(list)
    for a in plan.actions:
        by_type[a.kind].append(a)
    table = Table(
        title=f"plan: snapshot {plan.snapshot_id} of {plan.source_instance} -> {plan.target_url}"
    )
    table.add_column("action")
    for op in SYMBOLS:
        table.add_column(op, justify="right")
    for kind, actions in by_type.items():
        counts = defaultdict(int)
        for a in actions:
            counts[a.op] += 1
        table.add_row(kind, *(str(counts[op] or "") for op in SYMBOLS))
    console.print(table)
    for kind, actions in by_type.items():
        shown = [
            a for a in actions if details or a.warning or a.op in ("conflict", "blocked", "update")
        ]
        if shown:
            console.print(f"[bold]{kind}[/bold]")
        for a in shown:
            note = "; ".join(filter(None, [a.reason, a.warning]))
            console.print(f"  {SYMBOLS[a.op]} {a.object}" + (f"  ({note})" if note else ""))
    counts = plan.counts()
    console.print(
        "Plan: " + ", ".join(f"{counts.get(op, 0)} to {op}" for op in ("create", "update"))
        + f", {counts.get('skip', 0)} unchanged, {counts.get('conflict', 0)} in conflict, "
        f"{counts.get('blocked', 0)} blocked."
    )  # fmt: skip
    console.print(f"Restore: {estimate}.")


def open_for(app: AppContext, kw: dict[str, Any]) -> OpenSnapshot:
    store = store_for(app, kw["store"])
    cipher = cipher_for(app, store)
    return open_snapshot(store, kw["snapshot"], kw["source_instance"], cipher)


def _explain_order(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        click.echo("\n".join(explain_order()))
        ctx.exit(EXIT_OK)


@cli.command("plan")
@click.option(
    "--explain-order",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_explain_order,
    help="Print the order restore writes object types in, with the reason for each, and exit.",
)
@restore_options
@click.option("--json", "as_json", is_flag=True, help="The plan as JSON on stdout.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Save the plan for `restore --plan`.",
)
@click.option("--details", is_flag=True, help="List every action, unchanged ones too.")
@click.pass_obj
def plan_command(app: AppContext, target: str, target_token_env: tuple[str, ...], as_json: bool,
                 out: Path | None, details: bool, **kw: Any) -> None:  # fmt: skip
    """Show what a restore would do; writes nothing to the target."""
    snap = open_for(app, kw)
    tgt = Target(app, target, target_token_env, kw)

    async def run() -> Plan:
        async with tgt.pool() as clients:
            return await plan_restore(snap, clients, build_options(kw))

    plan = asyncio.run(run())
    if out:
        out.write_text(plan.model_dump_json(indent=1))
    if as_json:
        click.echo(plan.model_dump_json(indent=1))
    else:
        estimate = plan.estimate(tgt.rate, app.settings.rate_period, len(tgt.tokens))
        print_plan(plan, details, Console(), estimate)
        if out:
            Console().print(
                f"saved to {out}; apply exactly this plan with `omnimigrate restore --plan {out}`"
            )
    raise SystemExit(EXIT_OK)


def exit_code(result: ApplyResult) -> int:
    return EXIT_OK if result.complete else EXIT_PARTIAL


def print_result(result: ApplyResult, console: Console) -> None:
    counts = {s: len(result.by_status(s)) for s in ("done", "skipped", "failed", "blocked")}
    console.print("restore: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    console.print(describe_keys(result.keys))
    for status in ("failed", "blocked"):
        for key in result.by_status(status):
            console.print(f"  {status.upper()} {key}: {result.outcomes[key].detail}")


def write_report(path: Path | None, plan: Plan, result: ApplyResult) -> None:
    if path:
        path.write_text(json.dumps({
            "snapshot": plan.snapshot_id, "target": plan.target_url, "complete": result.complete,
            "counts": {s: len(result.by_status(s)) for s in ("done", "skipped", "failed", "blocked")},
            "keys": {k: v.model_dump() for k, v in result.keys.items()},
            "actions": {k: {"status": v.status, "detail": v.detail} for k, v in result.outcomes.items()},
        }, indent=1))  # fmt: skip


async def restore_into(
    tgt: Target, snap: OpenSnapshot, options: RestoreOptions, saved: Plan | None
) -> tuple[Plan, ApplyResult]:
    async with tgt.pool() as clients:
        if saved is not None:
            check_drift(saved, await snap.platform.read_inventory(clients))
            plan = saved
        else:
            plan = await plan_restore(snap, clients, options)
        with job_progress("restore") as progress:
            result = await apply_plan(
                snap, plan, clients, concurrency=tgt.concurrency, on_progress=progress
            )
    return plan, result


@cli.command("restore")
@restore_options
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Apply exactly this saved plan (refused if the target drifted).",
)
@click.option(
    "--report", type=click.Path(path_type=Path), default=None, help="Write a JSON summary here."
)
@click.pass_obj
def restore_command(app: AppContext, target: str, target_token_env: tuple[str, ...], plan_file: Path | None,
                    report: Path | None, **kw: Any) -> None:  # fmt: skip
    """Restore a snapshot into an instance (idempotent: a re-run writes only what is missing)."""
    saved = None
    if plan_file:
        text = plan_file.read_text()
        try:
            platform = platform_named(plan_platform(text, str(plan_file)))
            saved = platform.plan_type.model_validate_json(text)
        except (PlanFileError, UnknownPlatform) as exc:
            raise ConfigError(str(exc)) from None
        except ValidationError as exc:
            raise ConfigError(
                f"{plan_file} is not a saved plan: {exc.errors()[0]['msg']}"
            ) from None
        kw |= {"snapshot": saved.snapshot_id, "source_instance": saved.source_instance}
    snap = open_for(app, kw)
    tgt = Target(app, target, target_token_env, kw)
    if saved and instance_slug(saved.target_url) != instance_slug(tgt.inst.url):
        raise ConfigError(f"{plan_file} was made for {saved.target_url}, not {tgt.inst.url}")
    try:
        plan, result = asyncio.run(restore_into(tgt, snap, build_options(kw), saved))
    except PlanDrift as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_FAILED) from None
    write_report(report, plan, result)
    tgt.push_metrics(result)
    print_result(result, Console())
    raise SystemExit(exit_code(result))


@cli.command("migrate")
@click.option("--source", required=True, help="Source instance URL or config name.")
@click.option(
    "--source-token-env",
    multiple=True,
    help="Env var with a source org key (default OMNI_SOURCE_TOKEN).",
)
@restore_options
@click.option("--report", type=click.Path(path_type=Path), default=None)
@click.pass_obj
def migrate_command(app: AppContext, source: str, source_token_env: tuple[str, ...], target: str,
                    target_token_env: tuple[str, ...], report: Path | None, **kw: Any) -> None:  # fmt: skip
    """Back up SOURCE, then restore that snapshot into TARGET."""
    src = instance_for(app.settings, source, list(source_token_env), "OMNI_SOURCE_TOKEN")
    src_tokens = resolve_tokens(src.token_env)
    for t in src_tokens:
        app.redactor.add(t.get_secret_value())
    store = store_for(app, kw["store"])
    cipher = cipher_for(app, store, create=True)
    tgt = Target(app, target, target_token_env, kw)
    settings = app.settings

    async def run() -> tuple[Plan, ApplyResult]:
        async with client_pool(
            src.url,
            src_tokens,
            rate_limit=tgt.rate,
            period=settings.rate_period,
            burst=settings.rate_burst,
            retry=settings.retry_policy(),
        ) as clients:
            with job_progress("backup") as progress:
                outcome = await run_backup(
                    clients, store, BackupOptions(concurrency=tgt.concurrency),
                    cache_dir=settings.cache_dir, on_progress=progress, cipher=cipher,
                )  # fmt: skip
        m = outcome.manifest
        snap = await asyncio.to_thread(open_snapshot, store, m.snapshot_id, m.instance, cipher)
        return await restore_into(tgt, snap, build_options(kw), None)

    plan, result = asyncio.run(run())
    write_report(report, plan, result)
    print_result(result, Console())
    raise SystemExit(exit_code(result))


def print_verify(report: VerifyReport, console: Console) -> None:
    table = Table(title="verify: snapshot vs live instance")
    for col in ("object type", "checked", "matching", "fidelity"):
        table.add_column(col, justify="right" if col != "object type" else "left")
    for kind, t in report.types.items():
        table.add_row(kind, str(t.checked), str(t.matching), f"{t.percent:.1f} %")
    console.print(table)
    for kind, t in report.types.items():
        for diff in t.differences[:20]:
            console.print(f"  {kind}: {diff}")
    console.print(describe_keys(report.keys))


@cli.command("verify")
@click.option("--store", default=None)
@click.option("--snapshot", default="latest", show_default=True)
@click.option("--source-instance", default=None, help="With latest: whose latest snapshot.")
@click.option("--against", required=True, help="Instance URL or config name to compare.")
@click.option(
    "--target-token-env",
    multiple=True,
    help="Env var with its org key (default OMNI_TARGET_TOKEN).",
)
@click.option("--models", is_flag=True, help="Compare model YAML too.")
@click.option(
    "--document", "documents", multiple=True, help="Only these documents (and their schedules)."
)
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--rate-limit", type=click.IntRange(min=1), default=None, help="Requests/minute per key."
)
@click.pass_obj
def verify_command(app: AppContext, against: str, target_token_env: tuple[str, ...], models: bool,
                   documents: tuple[str, ...], as_json: bool, rate_limit: int | None, **kw: Any) -> None:  # fmt: skip
    """Compare a live instance with a snapshot: a fidelity table; exit 1 on any difference."""
    snap = open_for(app, kw)
    tgt = Target(app, against, target_token_env, {"rate_limit": rate_limit})

    async def run() -> VerifyReport:
        async with tgt.pool() as clients:
            return await snap.platform.verify(
                snap.source,
                clients,
                models=models,
                documents=list(documents) or None,
                concurrency=tgt.concurrency,
            )

    report = asyncio.run(run())
    if as_json:
        click.echo(json.dumps({k: {"checked": t.checked, "matching": t.matching, "differences": t.differences}
                               for k, t in report.types.items()}
                              | {"keys": {k: v.model_dump() for k, v in report.keys.items()}}, indent=1))  # fmt: skip
    else:
        print_verify(report, Console())
    raise SystemExit(EXIT_OK if report.ok else EXIT_FAILED)
