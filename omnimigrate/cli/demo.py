"""`omnimigrate demo`: the main job end to end on embedded defaults.

Starts a fake Omni on loopback with a generated org and walks it through the client, as a
backup will: an inventory per object type, the requests it took, and the conformance check.
Backup and restore extend this as they land.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import click
from rich.console import Console
from rich.table import Table

from omnimigrate.cli import EXIT_FAILED, EXIT_OK, AppContext, cli
from omnimigrate.fake.scenario import ScenarioSpec, generate
from omnimigrate.fake.server import FakeOmni, FakeSettings
from omnimigrate.omni.client import OmniClient
from omnimigrate.omni.ratelimit import RateLimiter


@dataclass
class Inventory:
    counts: dict[str, int]
    requests: int
    violations: list[str]


async def inventory(client: OmniClient) -> dict[str, int]:
    """Count what a backup would capture, one listing per object type."""
    counts = {
        "folders": len([f async for f in client.list_folders()]),
        "documents": len([d async for d in client.list_documents(include_deleted=True)]),
        "labels": len(await client.list_labels()),
        "models": len([m async for m in client.list_models()]),
        "connections": len(await client.list_connections()),
        "schedules": len([s async for s in client.list_schedules()]),
        "users": len([u async for u in client.list_users()]),
        "groups": len([g async for g in client.list_groups()]),
        "email-only users": len([e async for e in client.list_email_only_users()]),
    }
    return counts


async def run_demo(documents: int, rate_limit: int) -> Inventory:
    scenario = generate(ScenarioSpec(documents=documents))
    source = FakeOmni(scenario.state, FakeSettings(rate_limit=rate_limit))
    url = await source.start()
    try:
        async with OmniClient(url, scenario.org_token, limiter=RateLimiter(rate_limit)) as client:
            counts = await inventory(client)
    finally:
        await source.stop()
    return Inventory(counts, len(source.log.records), [str(v) for v in source.violations])


@cli.command()
@click.option("--documents", default=60, show_default=True, help="Documents in the generated org.")
@click.option(
    "--rate-limit",
    default=600,
    show_default=True,
    help="The fake's (and client's) limit per key and minute; Omni's default is 60.",
)
@click.pass_obj
def demo(app: AppContext, documents: int, rate_limit: int) -> None:
    """Run the main job against a fake Omni on this machine (no account needed)."""
    result = asyncio.run(run_demo(documents, rate_limit))
    table = Table(title="omnimigrate demo: inventory of a generated org via the Omni API")
    table.add_column("object type")
    table.add_column("count", justify="right")
    for name, count in result.counts.items():
        table.add_row(name, str(count))
    console = Console()
    console.print(table)
    console.print(f"{result.requests} requests, {len(result.violations)} openapi.json violations")
    for violation in result.violations:
        console.print(f"  violation: {violation}")
    raise SystemExit(EXIT_FAILED if result.violations else EXIT_OK)
