"""`omnimigrate plan`: what a restore would do, like `terraform plan`; writes nothing."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path

import click
from rich.console import Console

from omnimigrate.cli.app import EXIT_OK, AppContext, cli
from omnimigrate.cli.options import json_option
from omnimigrate.cli.progress import make_console, reading, requests_of, titled
from omnimigrate.cli.target import (
    SYMBOLS,
    RestoreFlags,
    Target,
    TargetFlags,
    open_for,
    platform_from,
    restore_options,
    unchanged,
)
from omnimigrate.engine.plan import Plan
from omnimigrate.engine.restore import plan_restore
from omnimigrate.hints import command_line
from omnimigrate.platforms import PLATFORMS, platform_named


def print_plan(plan: Plan, details: bool, console: Console, estimate: str) -> None:
    by_type: dict[str, list] = defaultdict(list)
    for a in plan.actions:
        by_type[a.kind].append(a)
    table = titled(
        f"plan: snapshot {plan.snapshot_id} of {plan.source_instance} -> {plan.target_url}"
    )
    table.add_column("action")
    for op in SYMBOLS:
        table.add_column(op, justify="right")
    for kind, actions in by_type.items():
        ops = Counter(a.op for a in actions)
        table.add_row(kind, *(str(ops[op] or "") for op in SYMBOLS))
    console.print(table)
    for kind, actions in by_type.items():
        shown = [
            a
            for a in actions
            if details or a.warning or a.op in ("conflict", "blocked", "update", "extra")
        ]
        if shown:
            console.print(f"[bold]{kind}[/bold]")
        for a in shown:
            note = "; ".join(filter(None, [a.reason, a.warning]))
            console.print(f"  {SYMBOLS[a.op]} {a.object}" + (f"  ({note})" if note else ""))
    counts = plan.counts()
    console.print(
        "Plan: "
        + ", ".join(f"{counts.get(op, 0)} to {op}" for op in ("create", "update"))
        + f", {unchanged(plan)} unchanged, {counts.get('conflict', 0)} in conflict, "
        f"{counts.get('blocked', 0)} blocked, {counts.get('extra', 0)} extra on the target (left there)."
    )
    console.print(f"Restore: {estimate}.")


def apply_hint(where: TargetFlags, out: Path) -> str:
    """`restore --plan` with this run's store, target, platform, project and keys (the saved
    plan holds the snapshot and every restore option)."""
    return command_line("restore", store=where.store, target=where.target,
                        platform=where.platform, project=where.project,
                        target_token_env=where.target_token_env, plan=str(out))  # fmt: skip


class PlanCommand(click.Command):
    """Keeps the raw arguments: `--explain-order` is eager (it needs no --target), and the
    order it prints is the one of the `--platform` given anywhere on the line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["plan_args"] = list(args)
        return super().parse_args(ctx, args)


def _asked_platform(args: list[str]) -> str:
    for n, arg in enumerate(args):
        if arg == "--platform" and n + 1 < len(args):
            return args[n + 1]
        if arg.startswith("--platform="):
            return arg.split("=", 1)[1]
    return "omni"


def _explain_order(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        asked = _asked_platform(ctx.meta.get("plan_args", []))
        # a name --platform refuses is refused after this eager option: Omni's order then
        platform = platform_named(asked if asked in PLATFORMS else "omni")
        click.echo("\n".join(platform.explain_order()))
        ctx.exit(EXIT_OK)


@cli.command("plan", cls=PlanCommand)
@click.option(
    "--explain-order",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_explain_order,
    help="Print the order restore writes object types in, with the reason for each, and exit.",
)
@restore_options
@json_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Save the plan for `restore --plan` (default: not saved).",
)
@click.option("--details", is_flag=True, help="List every action, unchanged ones too.")
@click.pass_obj
def plan_command(app: AppContext, as_json: bool, out: Path | None, details: bool,
                 where: TargetFlags, flags: RestoreFlags) -> None:  # fmt: skip
    """Show what a restore would do; writes nothing to the target."""
    early = platform_from(app, where)
    tgt = Target(app, where, early)
    options = tgt.options(flags)
    tgt.preflight()
    snap = early or open_for(app, where)

    async def run() -> Plan:
        async with (
            tgt.pool(snap) as clients,
            reading("plan: reading the target", requests_of(clients)),
        ):
            return await plan_restore(snap, clients, options)

    plan = asyncio.run(run())
    if out:
        out.write_text(plan.model_dump_json(indent=1))
    if as_json:
        click.echo(plan.model_dump_json(indent=1))
    else:
        estimate = plan.estimate(tgt.rate, app.settings.rate_period, len(tgt.tokens))
        print_plan(plan, details, make_console(), estimate)
        if out:
            hint = apply_hint(where, out)
            click.echo(f"saved to {out}; apply exactly this plan with `{hint}`")  # never wrapped
    raise SystemExit(EXIT_OK)
