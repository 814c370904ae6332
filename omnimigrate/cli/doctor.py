"""`omnimigrate doctor`: can this machine back up (or restore into) that instance?"""

from __future__ import annotations

import asyncio

import click
import structlog
from pydantic import SecretStr

from omnimigrate.cli.app import EXIT_FAILED, EXIT_OK, AppContext, cli
from omnimigrate.cli.options import platform_option, project_option
from omnimigrate.cli.progress import make_console, titled
from omnimigrate.config import InstanceConfig, instance_for, resolve_tokens
from omnimigrate.engine.preflight import Finding, passed
from omnimigrate.engine.preflight import diagnose as diagnose_keys
from omnimigrate.http.sessions import SessionFactory
from omnimigrate.logging import FOLDED
from omnimigrate.platforms import platform_named


async def diagnose(
    inst: InstanceConfig,
    tokens: list[SecretStr],
    rate_limit: int,
    timeout: float,
    sessions: SessionFactory,
) -> list[Finding]:
    """Every key's findings (reachability, authentication, key type or role, rate-limit
    headroom: the platform's checks in the engine's frame), then, when one may mean the
    other platform's server, which server the URL is."""
    checks = platform_named(inst.platform).checks(inst.project)
    return await diagnose_keys(
        checks, inst.url, tokens, inst.token_env, rate_limit, timeout, sessions
    )


@cli.command()
@click.option(
    "--source",
    "instance",
    default=None,
    help="Instance URL or name in the config file (Lightdash: default $LIGHTDASH_URL).",
)
@click.option(
    "--source-token-env",
    "token_env",
    multiple=True,
    help="Env var holding a token (repeatable: each key is checked; default OMNI_SOURCE_TOKEN, "
    "Lightdash: LIGHTDASH_API_KEY, or the config's `token_env`).",
)
@click.option(
    "--rate-limit",
    type=click.IntRange(min=1),
    default=None,
    help="Requests per minute per key (default: the instance's, else 60).",
)
@platform_option
@project_option("project", "--project", "The project to look for")
@click.pass_obj
def doctor(
    app: AppContext,
    instance: str | None,
    token_env: tuple[str, ...],
    rate_limit: int | None,
    platform: str | None,
    project: str | None,
) -> None:
    """Check reachability, auth, key type and rate-limit headroom of an instance."""
    inst = instance_for(app.settings, instance, list(token_env), "OMNI_SOURCE_TOKEN",
                        platform=platform, project=project)  # fmt: skip
    tokens = resolve_tokens(inst.token_env, platform=inst.platform)
    for token in tokens:
        app.redactor.add(token.get_secret_value())
    limit = app.settings.rate_limit_for(inst, rate_limit)
    # a failed request's warning is folded into the table, which names it on its row
    with structlog.contextvars.bound_contextvars(**{FOLDED: True}):
        checks = asyncio.run(diagnose(inst, tokens, limit, app.settings.timeout, app.sessions))
    table = titled(f"omnimigrate doctor: {inst.url}")
    for column in ("key", "check", "result", "detail"):
        table.add_column(column)
    for c in checks:
        table.add_row(c.key, c.name, "ok" if c.ok else "FAIL", c.detail)
    make_console().print(table)
    raise SystemExit(EXIT_OK if passed(checks) else EXIT_FAILED)
