"""`omnimigrate doctor`: can this machine back up (or restore into) that instance?"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import click
import structlog
from pydantic import SecretStr

from omnimigrate.cli.app import EXIT_FAILED, EXIT_OK, AppContext, cli
from omnimigrate.cli.options import platform_option, project_option
from omnimigrate.cli.progress import make_console, titled
from omnimigrate.config import InstanceConfig, instance_for, resolve_tokens
from omnimigrate.errors import ApiStatusError, AuthError, TransportError
from omnimigrate.http.identify import NOT_LIGHTDASH, lightdash_hint, lightdash_version
from omnimigrate.http.ratelimit import RateLimiter, key_fingerprint
from omnimigrate.http.sessions import SessionFactory
from omnimigrate.http.transport import Transport
from omnimigrate.logging import FOLDED
from omnimigrate.platforms.lightdash.doctor import diagnose_token


@dataclass
class Check:
    key: str
    name: str
    ok: bool
    detail: str


async def diagnose(
    inst: InstanceConfig,
    tokens: list[SecretStr],
    rate_limit: int,
    timeout: float,
    sessions: SessionFactory,
) -> list[Check]:
    """Reachability, authentication, key type and rate-limit headroom, per key (3 requests each)."""
    checks: list[Check] = []
    if inst.platform == "lightdash":
        for token in tokens:
            key = key_fingerprint(token.get_secret_value())
            found = await diagnose_token(
                inst.url, token, inst.project, rate_limit, timeout, sessions
            )
            checks += [Check(key, name, ok, detail) for name, ok, detail in found]
        if not all(c.ok for c in checks):
            async with sessions() as session:
                if await lightdash_version(session, inst.url, timeout) is None:
                    checks.append(Check("-", "platform", False, NOT_LIGHTDASH.lstrip("; ")))
        return checks
    async with sessions() as session:
        for token in tokens:
            transport = Transport(
                inst.url, token, session=session, limiter=RateLimiter(rate_limit), timeout=timeout
            )
            checks += await _diagnose_key(transport, rate_limit)
        if not all(c.ok for c in checks):
            version = await lightdash_version(session, inst.url, timeout)
            if version:  # the other platform's server: name the flag
                checks.append(Check("-", "platform", False, lightdash_hint(version).lstrip("; ")))
    return checks


async def _diagnose_key(t: Transport, rate_limit: int) -> list[Check]:
    key = t.key_id
    start = time.monotonic()
    try:
        reply = await t.send("GET", "/api/v1/labels")
    except TransportError as err:
        return [Check(key, "reachable", False, str(err))]
    except AuthError as err:
        return [
            Check(key, "reachable", True, t.base_url),
            Check(key, "authenticated", False, str(err)),
        ]
    except ApiStatusError as err:
        return [Check(key, "reachable", False, str(err))]
    latency = (time.monotonic() - start) * 1000
    checks = [
        Check(key, "reachable", True, f"{t.base_url} ({latency:.0f} ms)"),
        Check(key, "authenticated", True, "token accepted"),
    ]
    try:
        await t.send("GET", "/api/scim/v2/Users", params={"count": "1"})
        checks.append(
            Check(key, "key type", True, "organization API key: export, import and SCIM allowed")
        )
    except AuthError:
        checks.append(
            Check(
                key,
                "key type",
                False,
                "personal access token: backup and restore need an organization "
                "API key (export, import and SCIM refuse personal tokens)",
            )
        )
    limit, left = reply.headers.get("x-ratelimit-limit"), reply.headers.get("x-ratelimit-remaining")
    if limit and left:
        detail = (
            f"{left} of {limit} requests left in the current window; client limit {rate_limit}/min"
        )
    else:
        detail = f"Omni sent no rate-limit headers; client limit {rate_limit}/min per key"
    checks.append(Check(key, "rate limit", True, detail))
    return checks


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
    raise SystemExit(EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED)
