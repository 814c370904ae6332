"""`omnimigrate snapshots list|show`: what a store holds (committed snapshots only)."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from omnimigrate.cli import AppContext, cli
from omnimigrate.cli.backup import counts_table
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.manifest import Manifest
from omnimigrate.snapshot.store import open_store


def summary(m: Manifest) -> dict[str, object]:
    return {
        "snapshot": m.snapshot_id,
        "instance": m.instance,
        "source_url": m.source_url,
        "status": m.status,
        "format_version": m.format_version,
        "tool_version": m.tool_version,
        "started_at": m.started_at.isoformat(),
        "finished_at": m.finished_at.isoformat(),
        "export_flavour": m.export_flavour,
        "objects": sum(m.counts.values()),
        "counts": m.counts,
        "warnings": len(m.warnings),
        "failures": len(m.failures),
    }


@cli.group()
def snapshots() -> None:
    """List and inspect the snapshots in a store."""


store_option = click.option("--store", default=None, help="Folder or s3://bucket/prefix.")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@snapshots.command("list")
@store_option
@json_option
@click.option("--instance", default=None, help="Only this instance's snapshots.")
@click.pass_obj
def list_snapshots(app: AppContext, store: str | None, as_json: bool, instance: str | None) -> None:
    """Committed snapshots, oldest first."""
    catalog = Catalog(open_store(store or app.settings.store))
    rows = [summary(catalog.load(ref)) for ref in catalog.refs(instance)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"snapshots in {catalog.store.url}")
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
    Console().print(table)


@snapshots.command("show")
@click.argument("snapshot", default="latest")
@store_option
@json_option
@click.option("--instance", default=None, help="With `latest`: the latest of this instance.")
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
    catalog = Catalog(open_store(store or app.settings.store))
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
    console = Console()
    for field in (
        "snapshot",
        "instance",
        "source_url",
        "status",
        "started_at",
        "finished_at",
        "export_flavour",
    ):
        console.print(f"{field:>15}: {info[field]}")
    console.print(counts_table(None, m.counts))
    for w in info["warning_list"]:  # type: ignore[union-attr]
        console.print(f"  warning {w['type']} {w['key']}: {w['warning']}")
    for f in m.failures:
        console.print(f"  FAILED {f.job} {f.object}: {f.error}")
    if with_objects:
        for o in m.objects:
            console.print(f"  {o.type:22} {o.key}  {o.blob or '-'}")
