"""`omnimigrate doctor` for a Lightdash instance, per token: reachable and authenticated, the
token's organization role (an admin's sees every space; a lesser role's backup may miss
private ones), the projects it sees (and the one selected), and the rate limit in force."""

from __future__ import annotations

import time

from pydantic import SecretStr

from omnimigrate.errors import ApiStatusError, AuthError, TransportError
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.http.sessions import SessionFactory
from omnimigrate.platforms.lightdash.client import LightdashClient, ProjectNotFound, select_project

Finding = tuple[str, bool, str]  # (check, ok, detail)


async def diagnose_token(
    url: str,
    token: SecretStr,
    project: str | None,
    rate_limit: int,
    timeout: float,
    sessions: SessionFactory,
) -> list[Finding]:
    once = RetryPolicy(attempts=1)
    async with LightdashClient(url, token, sessions=sessions, timeout=timeout, retry=once) as c:
        start = time.monotonic()
        try:
            me = await c.me()
        except TransportError as err:
            return [("reachable", False, str(err))]
        except AuthError as err:
            return [("reachable", True, url), ("authenticated", False, str(err))]
        except ApiStatusError as err:
            return [("reachable", False, str(err))]
        findings = [
            ("reachable", True, f"{url} ({(time.monotonic() - start) * 1000:.0f} ms)"),
            ("authenticated", True, f"as {me.email or 'a user without an email'}"),
        ]
        admin = me.role == "admin"
        findings.append(("role", admin, f"organization {me.role}" if admin else
                         f"organization role {me.role or 'not given'}: a backup sees only the "
                         "spaces it may; use an organization admin's token"))  # fmt: skip
        projects = await c.projects()
        names = ", ".join(p.name for p in projects) or "none"
        try:
            if project:
                select_project(projects, project, url)
            findings.append(("projects", True, names))
        except ProjectNotFound:
            findings.append(("projects", False, f"no project {project!r} (it sees: {names})"))
        findings.append(
            ("rate limit", True, f"Lightdash documents none; client limit {rate_limit}/min per key")
        )
        return findings
