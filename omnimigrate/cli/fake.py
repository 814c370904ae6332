"""`omnimigrate fake serve`: run a fake Omni or Lightdash on this machine, for trying things
out: a generated org, or (`--standby`) the demo's empty standby with the same people."""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import click

from omnimigrate.cli.app import AppContext, cli
from omnimigrate.config import LIGHTDASH_TOKEN_ENV
from omnimigrate.errors import ConfigError
from omnimigrate.fakes.policies import Algorithm
from omnimigrate.platforms.lightdash.fake import scenario as ld_scenario
from omnimigrate.platforms.lightdash.fake.server import FakeLightdash, LightdashSettings
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.fake.state import OrgState

EXPORT = re.compile(r"^export (\w+)=")


def write_tokens(path: Path, variables: dict[str, str]) -> None:
    """Set `variables` in a 0600 file the user sources, keeping the other lines: a second
    fake adds its own variables beside the first one's. Never the terminal or the logs."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # two fakes started at once both keep their lines
        kept = [line for line in fh.read().splitlines()
                if not ((m := EXPORT.match(line)) and m.group(1) in variables)]  # fmt: skip
        fh.seek(0)
        fh.truncate()
        fh.writelines(f"{line}\n" for line in kept)
        fh.writelines(f"export {name}={value}\n" for name, value in variables.items())


def fresh_tokens(state: OrgState) -> None:
    """Random keys in place of the scenario's seeded ones, for the same users."""
    state.tokens = {
        token.token: token
        for token in (
            t.model_copy(update={"token": f"omni_{t.kind}_{secrets.token_hex(12)}"})
            for t in state.tokens.values()
        )
    }


@dataclass
class Served:
    """A fake ready to start, what it holds (for the ready line) and its tokens by kind."""

    fake: Any
    what: str
    tokens: dict[str, str]  # "org" or "personal" -> token


def omni_fake(
    seed: int, documents: int, state_file: Path | None, spare: bool, settings: FakeSettings
) -> Served:
    if state_file:
        state = OrgState.load_json(state_file)
    else:
        state = generate(ScenarioSpec(documents=documents, seed=seed)).state
        if spare:
            state = standby(state).state
        fresh_tokens(state)  # two fakes of one seed never share a key
    what = f"{len(state.documents)} documents" if state.documents else "no content"
    return Served(FakeOmni(state, settings), what, {t.kind: t.token for t in state.tokens.values()})


def lightdash_fake(seed: int, charts: int, spare: bool, settings: LightdashSettings) -> Served:
    from omnimigrate.cli.demo import lightdash_spec  # the demo's shape of a project

    scenario = ld_scenario.generate(lightdash_spec(charts, seed))
    state = (ld_scenario.standby(scenario.state) if spare else scenario).state
    admin = next(iter(state.tokens.values()))
    token = f"ldpat_{secrets.token_hex(12)}"  # two fakes of one seed never share a key
    state.tokens = {token: admin}
    what = ", ".join(f"project {p.name}: {len(p.charts)} charts" for p in state.projects.values())
    return Served(FakeLightdash(state, settings), what, {"org": token})


def variables(served: Served, url: str, token_var: str) -> dict[str, str]:
    """What the tokens file sets: the URL and the key under names taken from --token-var
    (OMNI_TARGET_TOKEN: OMNI_TARGET_URL, OMNI_TARGET_PERSONAL_TOKEN; LIGHTDASH_API_KEY:
    LIGHTDASH_URL, as Lightdash's own CLI reads them)."""
    prefix = token_var.removesuffix("_TOKEN").removesuffix("_API_KEY")
    names = {"org": token_var, "personal": f"{prefix}_PERSONAL_TOKEN"}
    return {f"{prefix}_URL": url} | {names[k]: v for k, v in served.tokens.items()}


def sourced(path: Path) -> str:
    """How a shell sources the file: `.` looks a bare name up in $PATH, not here."""
    return str(path) if "/" in str(path) else f"./{path}"


@cli.group()
def fake() -> None:
    """A fake Omni or Lightdash instance (the ones the tests and the demo use)."""


@fake.command("serve")
@click.option(
    "--platform",
    type=click.Choice(["omni", "lightdash"]),
    default="omni",
    help="Which fake: Omni's, or Lightdash's (projects Staging and Production).",
)
@click.option(
    "--standby",
    "spare",
    is_flag=True,
    help="Serve the demo's empty standby instead: the same people (and for Omni, connections "
    "and models) under other ids, no content; restore into it (default: a generated org).",
)
@click.option("--host", default="127.0.0.1", help="Address to listen on.")
@click.option("--port", default=8080, help="Port to listen on (0: any free port).")
@click.option("--seed", default=7, help="Scenario seed (a standby takes its people from it).")
@click.option(
    "--documents",
    default=60,
    help="Documents in the generated org (Lightdash: charts in the Staging project).",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Omni only: load the org from this JSON file (default: generate one from --seed).",
)
@click.option(
    "--rate-limit",
    type=click.IntRange(min=0),
    default=None,
    help="Requests per minute per key, 0 for none (default: 60 for Omni, as Omni's; none for "
    "Lightdash, which documents none).",
)
@click.option(
    "--rate-period",
    default=60.0,
    help="The limit's window in seconds (benchmarks scale time down with it).",
)
@click.option(
    "--limiter",
    type=click.Choice(get_args(Algorithm)),
    default="sliding",
    help="Omni only: how the limit is counted: a sliding or fixed window, or a token bucket.",
)
@click.option("--burst", default=1, help="Omni only: the token bucket's size (--limiter bucket).")
@click.option(
    "--validate/--no-validate",
    default=True,
    help="Check every request and response against openapi.json (benchmarks turn it off).",
)
@click.option(
    "--tokens-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the URL and tokens go (0600, `source` it; a second fake adds its variables "
    "beside the first's); written once the port is open (default: fake-omni.env, "
    "fake-lightdash.env for Lightdash).",
)
@click.option(
    "--token-var",
    default=None,
    help="The variable the tokens file sets to the API key; the URL goes to the same name "
    "ending _URL instead of _TOKEN or _API_KEY (default OMNI_SOURCE_TOKEN, Lightdash: "
    "LIGHTDASH_API_KEY; OMNI_TARGET_TOKEN or LIGHTDASH_TARGET_API_KEY for a second fake as "
    "the target).",
)
@click.pass_obj
def serve(app: AppContext, platform: str, spare: bool, host: str, port: int, seed: int, documents: int,
          state_file: Path | None, rate_limit: int | None, rate_period: float, limiter: Algorithm, burst: int,
          validate: bool, tokens_file: Path | None, token_var: str | None) -> None:  # fmt: skip
    """Serve a generated (or loaded, or empty standby) instance until interrupted."""
    token_var = token_var or (
        LIGHTDASH_TOKEN_ENV if platform == "lightdash" else "OMNI_SOURCE_TOKEN"
    )
    label = "Lightdash" if platform == "lightdash" else "Omni"
    # generating the org and loading the spec's validator take seconds: say so at once
    click.echo(f"starting a fake {label}{' standby' if spare else ''}…", err=True)
    if platform == "lightdash":
        if state_file:
            raise ConfigError("--state loads an Omni org: the Lightdash fake takes --seed only")
        settings = LightdashSettings(
            rate_limit=rate_limit or None, period=rate_period, validate=validate, nested_spaces=True
        )
        served = lightdash_fake(seed, documents, spare, settings)
    else:
        limit = 60 if rate_limit is None else rate_limit
        omni = FakeSettings(rate_limit=limit or None, period=rate_period, validate=validate,
                            limiter=limiter, burst=burst)  # fmt: skip
        served = omni_fake(seed, documents, state_file, spare, omni)
    tokens_file = tokens_file or Path(f"fake-{platform}.env")

    async def run() -> None:
        try:
            url = await served.fake.start(host, port)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}): port {port} is in use or "
                "not ours; stop what listens there or pick another --port (0: any free port)"
            ) from None
        names = variables(served, url, token_var)
        write_tokens(tokens_file, names)
        click.echo(
            f"fake {label}{' standby' if spare else ''} at {url} ({served.what}); "
            f"{', '.join(names)} in {tokens_file} (`. {sourced(tokens_file)}`); Ctrl-C to stop"
        )
        try:
            await asyncio.Event().wait()
        finally:
            await served.fake.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        click.echo("stopped")
