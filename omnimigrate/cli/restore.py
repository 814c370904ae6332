"""`omnimigrate restore`: replay a snapshot (or exactly a saved plan) into an instance."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import click
from pydantic import ValidationError

from omnimigrate.cli.app import EXIT_FAILED, AppContext, cli
from omnimigrate.cli.options import report_option
from omnimigrate.cli.progress import make_console
from omnimigrate.cli.target import (
    Acknowledged,
    RestoreFlags,
    Target,
    TargetFlags,
    accept_blocked_option,
    exit_code,
    open_for,
    platform_from,
    print_result,
    restore_into,
    restore_options,
    write_report,
)
from omnimigrate.engine.apply import plan_fault
from omnimigrate.engine.plan import Plan, PlanFileError, plan_platform
from omnimigrate.engine.restore import PlanDrift
from omnimigrate.errors import ConfigError
from omnimigrate.hints import command_line
from omnimigrate.platforms import UnknownPlatform, platform_named
from omnimigrate.snapshot.manifest import instance_slug


def replan_hint(where: TargetFlags, saved: Plan, out: Path, model_map: Path | None) -> str:
    """`plan` again, for the same snapshot, target and options as the saved plan, saved over
    it (`model_map`: the file this command was given, as a saved plan holds the mapping)."""
    given = saved.options.model_dump(exclude_defaults=True, exclude={"model_map"})
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    return command_line(
        "plan", store=where.store, snapshot=saved.snapshot_id,
        instance=saved.source_instance, target=where.target, platform=where.platform,
        project=where.project, target_token_env=where.target_token_env, **options,
        model_map=str(model_map) if model_map else None, out=str(out),
    )  # fmt: skip


def read_saved(plan_file: Path, where: TargetFlags, model_map: Path | None) -> Plan:
    """A saved plan this omnimigrate can apply as it stands, refused (naming the fault and the
    command that makes it again) before anything is read or written."""
    text = plan_file.read_text()
    fresh = command_line("plan", store=where.store, target=where.target, platform=where.platform,
                         project=where.project, target_token_env=where.target_token_env,
                         out=str(plan_file))  # fmt: skip
    try:
        platform = platform_named(plan_platform(text, str(plan_file)))
        saved = platform.plan_type.model_validate_json(text)
    except (PlanFileError, UnknownPlatform) as exc:
        raise ConfigError(f"{exc}: make it again with `{fresh}`") from None
    except ValidationError as exc:
        raise ConfigError(
            f"{plan_file} is not a saved plan ({exc.errors()[0]['msg']}): make one with `{fresh}`"
        ) from None
    fault = plan_fault(saved.actions, platform.action_kinds)
    if fault:
        again = replan_hint(where, saved, plan_file, model_map)
        raise ConfigError(f"{plan_file}: {fault}: make it again with `{again}`")
    return saved


@cli.command("restore")
@restore_options
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Apply exactly this saved plan; refused if the target drifted, resumed if it was "
    "killed (default: plan now and apply that).",
)
@report_option
@accept_blocked_option
@click.pass_obj
def restore_command(app: AppContext, plan_file: Path | None, report: Path | None,
                    accept_blocked: Path | None, where: TargetFlags, flags: RestoreFlags) -> None:  # fmt: skip
    """Restore a snapshot into an instance (idempotent: a re-run writes only what is missing)."""
    accepted = Acknowledged(accept_blocked)
    saved = None
    if plan_file:
        saved = read_saved(plan_file, where, flags.model_map)
        where = replace(where, snapshot=saved.snapshot_id, source_instance=saved.source_instance)
    early = platform_from(app, where)
    tgt = Target(app, where, early)
    if saved and instance_slug(saved.target_url) != instance_slug(tgt.inst.url):
        raise ConfigError(f"{plan_file} was made for {saved.target_url}, not {tgt.inst.url}")
    options = tgt.options(flags)
    tgt.preflight()
    snap = early or open_for(app, where)
    try:
        plan, result = asyncio.run(restore_into(tgt, snap, options, saved))
    except PlanDrift as exc:
        assert saved is not None and plan_file is not None  # only a saved plan drifts
        again = replan_hint(where, saved, plan_file, flags.model_map)
        click.echo(f"error: {str(exc).replace('`omnimigrate plan`', f'`{again}`')}", err=True)
        raise SystemExit(EXIT_FAILED) from None
    write_report(report, plan, result)
    tgt.push_metrics(result)
    print_result(plan, result, make_console(), accepted)
    raise SystemExit(exit_code(result, accepted))
