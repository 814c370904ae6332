"""`omnimigrate fake serve`: run the fake Omni on this machine, for trying things out."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import click

from omnimigrate.cli import AppContext, cli
from omnimigrate.config import ConfigError
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.fake.state import OrgState


def write_tokens(path: Path, tokens: dict[str, str]) -> None:
    """Tokens go to a 0600 file the user sources, never to the terminal or the logs."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"export {name}={value}\n" for name, value in tokens.items())


def fresh_tokens(state: OrgState) -> None:
    """Random keys in place of the scenario's seeded ones, for the same users."""
    state.tokens = {
        token.token: token
        for token in (
            t.model_copy(update={"token": f"omni_{t.kind}_{secrets.token_hex(12)}"})
            for t in state.tokens.values()
        )
    }


@cli.group()
def fake() -> None:
    """A fake Omni instance (the one the tests and the demo use)."""


@fake.command("serve")
@click.option("--host", default="127.0.0.1", help="Address to listen on.")
@click.option("--port", default=8080, help="Port to listen on.")
@click.option("--seed", default=7, show_default=True, help="Scenario seed.")
@click.option("--documents", default=60, help="Documents in the generated org.")
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Load the org from this JSON file (default: generate one from --seed).",
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
    help="Where the tokens go (0600, `source` it); written once the port is open.",
)
@click.option(
    "--token-var",
    default="OMNI_SOURCE_TOKEN",
    show_default=True,
    help="The variable the tokens file sets to the org API key (OMNI_TARGET_TOKEN for a "
    "second fake as the target).",
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
    token_var: str,
) -> None:
    """Serve a generated (or loaded) org until interrupted."""
    if state_file:
        state = OrgState.load_json(state_file)
    else:
        state = generate(ScenarioSpec(documents=documents, seed=seed)).state
        fresh_tokens(state)  # two fakes of one seed never share a key
    names = {"org": token_var, "personal": "OMNI_PERSONAL_TOKEN"}
    tokens = {names[t.kind]: t.token for t in state.tokens.values()}

    async def run() -> None:
        settings = FakeSettings(
            rate_limit=rate_limit or None,
            period=rate_period,
            limiter=limiter,  # type: ignore[arg-type]
            burst=burst,
            validate=validate,
        )
        server = FakeOmni(state, settings)
        try:
            url = await server.start(host, port)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}): port {port} is in use or "
                "not ours; stop what listens there or pick another --port"
            ) from None
        write_tokens(tokens_file, tokens)
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
