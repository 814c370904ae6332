"""`omnimigrate verify`: compare a live instance with a snapshot, per object type and field."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from rich.console import Console

from omnimigrate.cli.app import EXIT_FAILED, EXIT_OK, AppContext, cli, describe_keys
from omnimigrate.cli.options import (
    AliasedOption,
    instance_option,
    json_option,
    platform_option,
    project_option,
    rate_limit_option,
    store_option,
)
from omnimigrate.cli.progress import make_console, reading, requests_of, titled
from omnimigrate.cli.target import (
    RestoreFlags,
    Target,
    TargetFlags,
    VerifyFlags,
    open_for,
    typed_flags,
)
from omnimigrate.engine.content import ContentReport
from omnimigrate.engine.verify import VerifyReport


def print_verify(report: VerifyReport, console: Console) -> None:
    table = titled("verify: snapshot vs live instance")
    for col in ("object type", "checked", "matching", "fidelity"):
        table.add_column(col, justify="right" if col != "object type" else "left")
    for kind, t in report.types.items():
        table.add_row(kind, str(t.checked), str(t.matching), f"{t.percent:.1f} %")
    console.print(table)
    for kind, t in report.types.items():
        for diff in t.differences[:20]:
            console.print(f"  {kind}: {diff}")
        for extra in t.extras[:20]:
            console.print(f"  {kind}: extra: {extra}")
    for note in report.notes:
        console.print(f"  note: {note}")
    console.print(describe_keys(report.keys))


@cli.command("verify")
@store_option
@click.option("--snapshot", default="latest", help="Snapshot id, or latest.")
@instance_option("source_instance", "With latest: whose latest snapshot")
@click.option(
    "--target",
    "--against",
    "target",
    cls=AliasedOption,
    hidden_names=("--against",),
    default=None,
    help="Instance URL or config name to compare, as restore's --target (Lightdash: default "
    "$LIGHTDASH_URL).",
)
@click.option(
    "--target-token-env",
    multiple=True,
    help="Env var with a target API key (repeatable: each key gets its own rate limit; "
    "default OMNI_TARGET_TOKEN, Lightdash: LIGHTDASH_API_KEY, or the config's `token_env`).",
)
@platform_option
@project_option("project", "--project", "The project to compare")
@click.option("--models", is_flag=True, help="Omni only: compare model YAML too.")
@click.option(
    "--document",
    "documents",
    multiple=True,
    help="Omni only: only these documents and their schedules (repeatable; default: all).",
)
@click.option(
    "--pause-schedules",
    is_flag=True,
    help="Omni only: the restore ran with --pause-schedules, so expect every schedule paused "
    "(default: as the snapshot has it).",
)
@click.option(
    "--content",
    is_flag=True,
    help="Also run the instance's content validator and name the content the restore broke "
    "(new), that was broken at the source too (carried) or that it fixed; exit 1 on any new.",
)
@click.option(
    "--model-map",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="With --content: the --model-map the restore used (default: models by key).",
)
@json_option
@rate_limit_option
@click.pass_obj
@typed_flags(where=TargetFlags, expect=VerifyFlags)
def verify_command(app: AppContext, content: bool, model_map: Path | None, as_json: bool,
                   where: TargetFlags, expect: VerifyFlags) -> None:  # fmt: skip
    """Compare a live instance with a snapshot: a fidelity table; exit 1 on any difference."""
    tgt = Target(app, where)
    # verify's options, and the restore's its content check takes (the model map), as the
    # platform takes them: one it does not is refused (naming it) before any request
    expected = tgt.verify_options(expect)
    options = tgt.options(RestoreFlags(model_map=model_map))
    tgt.preflight()
    snap = open_for(app, where)

    async def run() -> tuple[VerifyReport, ContentReport | None]:
        async with (
            tgt.pool(snap) as clients,
            reading("verify: reading the target", requests_of(clients)),
        ):
            report = await snap.platform.verify(
                snap.source, clients, expected, concurrency=tgt.concurrency, store=snap.store
            )
            if not content:
                return report, None
            return report, await snap.platform.check_content(snap.source, clients, options)

    report, checks = asyncio.run(run())
    if as_json:
        click.echo(json.dumps({k: {"checked": t.checked, "matching": t.matching, "differences": t.differences, "extras": t.extras}
                               for k, t in report.types.items()}
                              | {"keys": {k: v.model_dump() for k, v in report.keys.items()}, "notes": report.notes}
                              | ({"content": checks.model_dump()} if checks else {}), indent=1))  # fmt: skip
    else:
        print_verify(report, make_console())
        if checks:
            print_content(checks, make_console())
    ok = report.ok and (checks is None or checks.ok)
    raise SystemExit(EXIT_OK if ok else EXIT_FAILED)


def print_content(checks: ContentReport, console: Console) -> None:
    console.print(
        f"content: {checks.checked} checked on {', '.join(checks.scopes) or 'no model'}: "
        f"{len(checks.new)} new, {len(checks.carried)} carried, {len(checks.fixed)} fixed"
    )
    for label, items in (("NEW", checks.new), ("carried", checks.carried), ("fixed", checks.fixed)):
        for item in items:
            console.print(f"  {label} {item.key} {item.name}: {'; '.join(item.issues)}")
    for warning in checks.warnings:
        console.print(f"  warning: {warning}")
