"""`omnimigrate drill`: restore a snapshot into a standby, verify it, check its content, and
keep the evidence (drill.json and drill.html) in the store next to the snapshot."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from omnimigrate.cli.app import EXIT_OK, EXIT_PARTIAL, AppContext, cli, describe_keys
from omnimigrate.cli.options import instance_option, json_option, store_option
from omnimigrate.cli.progress import make_console
from omnimigrate.cli.snapshots import snapshots
from omnimigrate.cli.stores import cipher_for, store_for
from omnimigrate.cli.target import (
    Acknowledged,
    RestoreFlags,
    Target,
    TargetFlags,
    accept_blocked_option,
    restore_options,
)
from omnimigrate.engine.drill import Drill, DrillReport, list_drills, open_drilled, save_drill
from omnimigrate.engine.drill_html import duration, render_drill


def print_drill(report: DrillReport, where: str, console: Console) -> None:
    r = report.restore
    console.print(
        f"drill {report.drill_id}: snapshot {report.snapshot_id} of {report.instance} into "
        f"{report.target_url}: {'passed' if report.ok else 'needs attention'}"
    )
    console.print(f"  RPO {duration(report.rpo_seconds)} (the snapshot's age at the drill's start)")
    console.print(
        f"  RTO {duration(r.wall_seconds)} against the plan's {duration(r.estimate_seconds)} "
        f"({r.estimate_requests} requests; {'within' if r.within_tolerance else 'outside'} 25 %)"
    )
    for kind, t in report.fidelity.items():
        console.print(f"  {kind}: {t.matching}/{t.checked} ({t.percent:.2f} %)")
        for diff in t.differences:
            console.print(f"    {diff}")
    c = report.content
    console.print(
        f"  content: {len(c.new)} new, {len(c.carried)} carried, {len(c.fixed)} fixed issues"
    )
    for item in c.new:
        console.print(f"    NEW {item.key} {item.name}: {'; '.join(item.issues)}")
    for warning in c.warnings:
        console.print(f"    warning: {warning}")
    for b in report.blocked:
        console.print(f"  BLOCKED {b.id}{' (acknowledged)' if b.acknowledged else ''}: {b.detail}")
    console.print("  " + describe_keys(report.keys))
    console.print(f"  evidence: {where}/drill.json and {where}/drill.html")


@cli.command("drill")
@restore_options
@accept_blocked_option
@click.option(
    "--html",
    "html_copy",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write drill.html here (default: only into the store).",
)
@click.pass_obj
def drill_command(app: AppContext, accept_blocked: Path | None, html_copy: Path | None,
                  where: TargetFlags, flags: RestoreFlags) -> None:  # fmt: skip
    """A DR drill: restore a snapshot into a standby, verify it and check its content; the
    evidence goes into the store beside the snapshot. Exit 0 when it passed, 3 otherwise.

    Run it right after a restore (a replication rule's) and the restore writes nothing: the
    drill then verifies and checks what that restore left."""
    configured = app.settings.service.restore_target(where.target) if where.target else None
    accepted = Acknowledged(accept_blocked, configured.accept_blocked if configured else [])
    tgt = Target(app, where)
    options = tgt.options(flags)
    tgt.preflight()
    store = store_for(app, where.store)
    snap, manifest = open_drilled(
        store, where.snapshot, where.source_instance, cipher_for(app, store)
    )
    drill = Drill(
        snap, manifest, options, rate=tgt.rate, period=app.settings.rate_period,
        acknowledged=accepted.__contains__, concurrency=tgt.concurrency,
    )  # fmt: skip

    async def run() -> DrillReport:
        async with tgt.pool(snap) as clients:
            report, _ = await drill.run(clients)
            return report

    report = asyncio.run(run())
    html = render_drill(report)
    saved = save_drill(store, report, html)
    if html_copy:
        html_copy.write_text(html)
    print_drill(report, f"{store.url}/{saved}", make_console())
    tgt.push_drill(report)
    raise SystemExit(EXIT_OK if report.ok else EXIT_PARTIAL)


@snapshots.command("drills")
@store_option
@json_option
@instance_option("instance", "Only this instance's drills")
@click.pass_obj
def list_drill_reports(app: AppContext, store: str | None, as_json: bool, instance: str | None) -> None:  # fmt: skip
    """Past DR drills, oldest first: when, which snapshot, RPO, RTO, fidelity, new issues."""
    reports = list_drills(store_for(app, store), instance)
    rows = [
        {
            "drill": r.drill_id, "instance": r.instance, "snapshot": r.snapshot_id,
            "target": r.target_url, "passed": r.ok, "rpo_seconds": r.rpo_seconds,
            "rto_seconds": r.rto_seconds, "estimate_seconds": r.restore.estimate_seconds,
            "fidelity_percent": r.fidelity_percent, "new_content_issues": len(r.content.new),
        }
        for r in reports
    ]  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="DR drills")
    for column in ("drill", "instance", "snapshot", "target", "passed", "RPO", "RTO", "fidelity", "new issues"):  # fmt: skip
        table.add_column(column)
    for r in reports:
        table.add_row(
            r.drill_id, r.instance, r.snapshot_id, r.target_url, "yes" if r.ok else "no",
            duration(r.rpo_seconds), duration(r.rto_seconds), f"{r.fidelity_percent:.2f} %",
            str(len(r.content.new)),
        )  # fmt: skip
    make_console().print(table)
