"""`omnimigrate fake serve`: run the fake Omni on this machine, for trying things out."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from omnimigrate.cli import AppContext, cli
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.fake.state import OrgState


def write_tokens(path: Path, tokens: dict[str, str]) -> None:
    """Tokens go to a 0600 file the user sources, never to the terminal or the logs."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"export {name}={value}\n" for name, value in tokens.items())


@cli.group()
def fake() -> None:
    """A fake Omni instance (the one the tests and the demo use)."""


@fake.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--seed", default=7, show_default=True, help="Scenario seed.")
@click.option("--documents", default=60, show_default=True)
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Load the org from this JSON file instead of generating one.",
)
@click.option(
    "--rate-limit", default=60, show_default=True, help="Requests per minute per key (0: off)."
)
@click.option(
    "--rate-period",
    default=60.0,
    show_default=True,
    help="The limit's window in seconds (benchmarks scale time down with it).",
)
@click.option(
    "--limiter",
    type=click.Choice(["sliding", "fixed", "bucket"]),
    default="sliding",
    show_default=True,
    help="How the limit is counted: a sliding or fixed window, or a token bucket.",
)
@click.option(
    "--burst", default=1, show_default=True, help="The token bucket's size (with --limiter bucket)."
)
@click.option(
    "--validate/--no-validate",
    default=True,
    show_default=True,
    help="Check every request and response against openapi.json (benchmarks turn it off).",
)
@click.option(
    "--tokens-file",
    type=click.Path(path_type=Path),
    default=Path("fake-omni.env"),
    show_default=True,
)
@click.pass_obj
def serve(
    app: AppContext,
    host: str,
    port: int,
    seed: int,
    documents: int,
    state_file: Path | None,
    rate_limit: int,
    rate_period: float,
    limiter: str,
    burst: int,
    validate: bool,
    tokens_file: Path,
) -> None:
    """Serve a generated (or loaded) org until interrupted."""
    if state_file:
        state = OrgState.load_json(state_file)
        tokens = {f"OMNI_{t.kind.upper()}_TOKEN": t.token for t in state.tokens.values()}
    else:
        scenario = generate(ScenarioSpec(documents=documents, seed=seed))
        state = scenario.state
        tokens = {
            "OMNI_SOURCE_TOKEN": scenario.org_token,
            "OMNI_PERSONAL_TOKEN": scenario.personal_token,
        }
    write_tokens(tokens_file, tokens)

    async def run() -> None:
        settings = FakeSettings(
            rate_limit=rate_limit or None,
            period=rate_period,
            limiter=limiter,  # type: ignore[arg-type]
            burst=burst,
            validate=validate,
        )
        server = FakeOmni(state, settings)
        url = await server.start(host, port)
        click.echo(
            f"fake Omni at {url} ({len(state.documents)} documents); tokens in {tokens_file} "
            f"(`source {tokens_file}`); Ctrl-C to stop"
        )
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        click.echo("stopped")
