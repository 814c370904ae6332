"""`omnimigrate snapshots list|show`: what a store holds (committed snapshots only)."""

from __future__ import annotations

import json

import click

from omnimigrate.cli.app import EXIT_FAILED, EXIT_OK, AppContext, cli
from omnimigrate.cli.backup import counts_table
from omnimigrate.cli.options import (
    OLD_INSTANCE_NAMES,
    AliasedOption,
    instance_option,
    json_option,
    store_option,
)
from omnimigrate.cli.progress import make_console, titled
from omnimigrate.cli.stores import blobs_for, store_for
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.check import check
from omnimigrate.snapshot.diff import diff
from omnimigrate.snapshot.gc import prune
from omnimigrate.snapshot.lock import InstanceLock
from omnimigrate.snapshot.manifest import Manifest, object_count
from omnimigrate.snapshot.retention import RetentionRules


def summary(m: Manifest) -> dict[str, object]:
    return {
        "snapshot": m.snapshot_id,
        "platform": m.platform,
        "instance": m.instance,
        "source_url": m.source_url,
        "status": m.status,
        "format_version": m.format_version,
        "tool_version": m.tool_version,
        "started_at": m.started_at.isoformat(),
        "finished_at": m.finished_at.isoformat(),
        "export_flavour": m.export_flavour,
        "objects": object_count(m),
        "counts": m.counts,
        "warnings": len(m.warnings),
        "failures": len(m.failures),
    }


@cli.group()
def snapshots() -> None:
    """List and inspect the snapshots in a store."""


@snapshots.command("list")
@store_option
@json_option
@instance_option("instance", "Only this instance's snapshots")
@click.pass_obj
def list_snapshots(app: AppContext, store: str | None, as_json: bool, instance: str | None) -> None:
    """Committed snapshots, oldest first."""
    catalog = Catalog(store_for(app, store))
    rows = [summary(catalog.load(ref)) for ref in catalog.refs(instance)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = titled(f"snapshots in {catalog.store.url}")
    for column in ("snapshot", "instance", "status", "finished", "objects", "warnings", "failures"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["snapshot"]),
            str(r["instance"]),
            str(r["status"]),
            str(r["finished_at"])[:19],
            str(r["objects"]),
            str(r["warnings"]),
            str(r["failures"]),
        )
    make_console().print(table)


@snapshots.command("show")
@click.argument("snapshot", default="latest")
@store_option
@json_option
@instance_option("instance", "With latest: the latest of this instance")
@click.option("--objects", "with_objects", is_flag=True, help="List every object too.")
@click.pass_obj
def show_snapshot(
    app: AppContext,
    snapshot: str,
    store: str | None,
    as_json: bool,
    instance: str | None,
    with_objects: bool,
) -> None:
    """One snapshot: counts, warnings and failures (SNAPSHOT is an id or `latest`)."""
    catalog = Catalog(store_for(app, store))
    m = catalog.load(catalog.resolve(snapshot, instance))
    info = summary(m) | {
        "keys": {k: v.model_dump() for k, v in m.keys.items()},
        "warning_list": [{"type": o.type, "key": o.key, "warning": w} for o, w in m.warnings],
        "failure_list": [f.model_dump() for f in m.failures],
    }
    if with_objects:
        info["object_list"] = [o.model_dump() for o in m.objects]
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    console = make_console()
    for field in (
        "snapshot",
        "platform",
        "instance",
        "source_url",
        "status",
        "started_at",
        "finished_at",
        "export_flavour",
    ):
        console.print(f"{field:>15}: {info[field]}")
    console.print(counts_table(None, m.counts))
    for o, w in m.warnings:
        console.print(f"  warning {o.type} {o.key}: {w}")
    for f in m.failures:
        console.print(f"  FAILED {f.job} {f.object}: {f.error}")
    if with_objects:
        for o in m.objects:
            console.print(f"  {o.type:22} {o.key}  {o.blob or '-'}")


@snapshots.command("verify")
@click.argument("snapshot", required=False)
@click.option("--all", "every", is_flag=True, help="Every snapshot in the store.")
@store_option
@instance_option("instance", "With latest: the latest of this instance")
@click.option(
    "--read-data-subset",
    default=None,
    help="Read only a share of the blobs: a percentage (10%) or a fraction (1/5) (default: all).",
)
@json_option
@click.pass_obj
def verify_snapshots(
    app: AppContext,
    snapshot: str | None,
    every: bool,
    store: str | None,
    instance: str | None,
    read_data_subset: str | None,
    as_json: bool,
) -> None:
    """Re-read every blob a snapshot references and check its hash; exit 1 on any fault."""
    if every == bool(snapshot):
        raise click.UsageError("give a SNAPSHOT id (or latest), or --all, not both")
    target = store_for(app, store)
    catalog = Catalog(target)
    refs = catalog.refs(instance) if every else [catalog.resolve(snapshot or "latest", instance)]
    report = check(catalog, refs, blobs_for(app, target), subset=parse_subset(read_data_subset))
    if as_json:
        click.echo(json.dumps({"snapshots": report.snapshots, "blobs_checked": report.blobs_checked,
                               "faults": [f.__dict__ for f in report.faults]}, indent=1))  # fmt: skip
    else:
        console = make_console()
        console.print(
            f"checked {report.snapshots} snapshot(s), {report.blobs_checked} blobs: "
            + (f"{len(report.faults)} fault(s)" if report.faults else "no faults")
        )
        for f in report.faults:
            console.print(f"  [red]FAULT[/red] {f.snapshot} {f.where}: {f.problem}")
    raise SystemExit(EXIT_FAILED if report.faults else EXIT_OK)


def parse_subset(text: str | None) -> float:
    if text is None:
        return 1.0
    try:
        if text.endswith("%"):
            value = float(text[:-1]) / 100
        elif "/" in text:
            num, den = text.split("/")
            value = float(num) / float(den)
        else:
            value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise click.BadParameter(f"{text!r}: give a percentage like 10% or a fraction like 1/5")
    return value


@snapshots.command("diff")
@click.argument("first")
@click.argument("second")
@store_option
@instance_option("instance", "With latest: the latest of this instance")
@json_option
@click.pass_obj
def diff_snapshots(
    app: AppContext, first: str, second: str, store: str | None, instance: str | None, as_json: bool
) -> None:
    """What changed from snapshot FIRST to SECOND, per object type."""
    target = store_for(app, store)
    catalog = Catalog(target)
    a = catalog.load(catalog.resolve(first, instance))
    b = catalog.load(catalog.resolve(second, instance))
    result = diff(a, b, blobs_for(app, target))
    if as_json:
        click.echo(json.dumps({k: v.__dict__ for k, v in result.items()}, indent=1))
        return
    console = make_console()
    console.print(f"{a.snapshot_id} -> {b.snapshot_id}")
    if not any(d.added or d.removed or d.changed for d in result.values()):
        console.print("no changes")
    for kind, d in result.items():
        console.print(f"[bold]{kind}[/bold]: +{len(d.added)} -{len(d.removed)} ~{len(d.changed)}")
        for key in d.added:
            console.print(f"  + {key}")
        for key in d.removed:
            console.print(f"  - {key}")
        for key, changes in d.changed.items():
            console.print(f"  ~ {key}: " + "; ".join(changes[:8]))


@snapshots.command("prune")
@store_option
@instance_option("instance", "Only this instance's snapshots")
@click.option(
    "--keep-last",
    type=click.IntRange(min=0),
    default=None,
    help="Keep the N newest (default: the config's `retention`, else 0).",
)
@click.option(
    "--keep-hourly",
    type=click.IntRange(min=0),
    default=None,
    help="Keep the newest of each of the last N hours (default: as --keep-last).",
)
@click.option(
    "--keep-daily",
    type=click.IntRange(min=0),
    default=None,
    help="Keep the newest of each of the last N days (default: as --keep-last).",
)
@click.option(
    "--keep-weekly",
    type=click.IntRange(min=0),
    default=None,
    help="Keep the newest of each of the last N ISO weeks (default: as --keep-last).",
)
@click.option(
    "--keep-monthly",
    type=click.IntRange(min=0),
    default=None,
    help="Keep the newest of each of the last N months (default: as --keep-last).",
)
@click.option("--dry-run", is_flag=True, help="Show what would go; delete nothing.")
@json_option
@click.pass_obj
def prune_snapshots(
    app: AppContext, store: str | None, instance: str | None, keep_last: int | None,
    keep_hourly: int | None, keep_daily: int | None, keep_weekly: int | None,
    keep_monthly: int | None, dry_run: bool, as_json: bool,
) -> None:  # fmt: skip
    """Forget snapshots by retention rules (flags, else the config's `retention`), then delete
    blobs no snapshot references. The newest complete snapshot of an instance always stays."""
    keep = {"keep_last": keep_last, "keep_hourly": keep_hourly, "keep_daily": keep_daily,
            "keep_weekly": keep_weekly, "keep_monthly": keep_monthly}  # fmt: skip
    given = {k: v for k, v in keep.items() if v is not None}
    rules = RetentionRules(**given) if given else app.settings.retention
    if rules.empty:
        raise click.UsageError(
            "no retention rule: give --keep-last/--keep-hourly/--keep-daily/--keep-weekly/"
            "--keep-monthly, or set retention in the config file"
        )
    report = prune(
        store_for(app, store), rules, instance=instance, dry_run=dry_run,
        grace_seconds=app.settings.gc_grace_seconds,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps({
            "dry_run": dry_run, "kept": report.kept,
            "forgotten": [f"{r.instance}/{r.snapshot_id}" for r in report.forgotten],
            "blobs_deleted": report.blobs_deleted, "blobs_kept": report.blobs_kept,
        }, indent=1))  # fmt: skip
        return
    console = make_console()
    for inst, kept in report.kept.items():
        console.print(f"[bold]{inst}[/bold]: keep {len(kept)}")
        for sid, why in sorted(kept.items()):
            console.print(f"  keep {sid} ({', '.join(why)})")
    for ref in report.forgotten:
        console.print(
            f"  {'would forget' if dry_run else 'forgot'} {ref.instance}/{ref.snapshot_id}"
        )
    if not dry_run:
        console.print(f"blobs: {report.blobs_deleted} deleted, {report.blobs_kept} kept")


@snapshots.command("unlock")
@click.option(
    "--instance",
    *OLD_INSTANCE_NAMES,
    "instance",
    cls=AliasedOption,
    hidden_names=OLD_INSTANCE_NAMES,
    required=True,
    help="The instance whose lock to remove (its name in the store, as `snapshots list` shows).",
)
@store_option
@click.pass_obj
def unlock(app: AppContext, instance: str, store: str | None) -> None:
    """Remove an instance's backup lock (only when the run holding it is gone); exit 1 when
    there is no lock to remove."""
    target = store_for(app, store)
    held = InstanceLock(target, instance).force_unlock()
    if held is None:
        known = sorted({r.instance for r in Catalog(target).refs()})
        raise click.ClickException(
            f"nothing to unlock: {instance} holds no lock in {target.url} (instances there: "
            f"{', '.join(known) or 'none'})"
        )
    click.echo(f"removed the lock held by {held.describe()}")
