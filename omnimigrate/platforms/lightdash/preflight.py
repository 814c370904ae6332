"""What Lightdash's pre-flight and `doctor` ask of an instance, and what the answers mean;
the frame around them (the session, each key, the verdict, the other platform's hint) is the
engine's (`engine/preflight.py`).

The pre-flight is `GET /api/v1/org/projects` per token: the instance answers, takes the
token, and has the project asked for. `doctor` adds, per token, the token's organization
role (an admin's sees every space; a lesser role's backup may miss private ones), the
projects it sees (and the one selected), and the rate limit in force.
"""

from __future__ import annotations

import time

import aiohttp
from pydantic import ValidationError

from omnimigrate.engine.preflight import Finding, Probe
from omnimigrate.errors import ApiStatusError, AuthError, TransportError
from omnimigrate.http.identify import NOT_LIGHTDASH, lightdash_version
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.platforms.lightdash.client import LightdashClient, ProjectNotFound, select_project


def _client(probe: Probe) -> LightdashClient:
    """One attempt: a pre-flight or `doctor` reports what the server answers at once."""
    return LightdashClient(probe.url, probe.token, session=probe.session,
                           timeout=probe.timeout, retry=RetryPolicy(attempts=1))  # fmt: skip


class LightdashChecks:
    """`project`: the one a run selects (by uuid or name); None: every project."""

    def __init__(self, project: str | None = None) -> None:
        self.project = project

    async def preflight(self, probe: Probe) -> list[Finding]:
        url, name = probe.url, probe.name
        try:
            found = await _client(probe).projects()
        except TransportError as err:
            return [Finding("reachable", False, f"{url} did not answer ({err.message}): check "
                            "the URL and the network", configuration=False)]  # fmt: skip
        except AuthError as err:
            return [Finding("authenticated", False, f"{url} refused the token in ${name} "
                            f"({err.status}: {err.detail}): put a Lightdash personal access "
                            "token of an organization admin in it", foreign=True)]  # fmt: skip
        except (ApiStatusError, ValidationError) as err:  # the server's answer, not our bug
            return [Finding("reachable", False, f"{url} did not answer as Lightdash's API does "
                            f"({_one_line(err)}): check that the URL is the instance's origin, "
                            "for example https://app.lightdash.cloud",
                            configuration=False, foreign=True)]  # fmt: skip
        if self.project:
            try:
                select_project(found, self.project, url)
            except ProjectNotFound as err:
                return [Finding("projects", False, str(err))]
        return [Finding("reachable", True, url)]

    async def diagnose(self, probe: Probe) -> list[Finding]:
        url, c = probe.url, _client(probe)
        start = time.monotonic()
        try:
            me = await c.me()
        except TransportError as err:
            return [Finding("reachable", False, str(err), foreign=True)]
        except AuthError as err:
            return [Finding("reachable", True, url),
                    Finding("authenticated", False, str(err), foreign=True)]  # fmt: skip
        except ApiStatusError as err:
            return [Finding("reachable", False, str(err), foreign=True)]
        findings = [
            Finding("reachable", True, f"{url} ({(time.monotonic() - start) * 1000:.0f} ms)"),
            Finding("authenticated", True, f"as {me.email or 'a user without an email'}"),
        ]
        admin = me.role == "admin"
        findings.append(Finding("role", admin, f"organization {me.role}" if admin else
                                f"organization role {me.role or 'not given'}: a backup sees "
                                "only the spaces it may; use an organization admin's token"))  # fmt: skip
        projects = await c.projects()
        names = ", ".join(p.name for p in projects) or "none"
        try:
            if self.project:
                select_project(projects, self.project, url)
            findings.append(Finding("projects", True, names))
        except ProjectNotFound:
            findings.append(
                Finding("projects", False, f"no project {self.project!r} (it sees: {names})")
            )
        findings.append(Finding("rate limit", True, "Lightdash documents none; client limit "
                                f"{probe.rate_limit}/min per key"))  # fmt: skip
        return findings

    async def other_server(
        self, session: aiohttp.ClientSession, url: str, timeout: float
    ) -> str | None:
        """Whatever does not answer Lightdash's health route is not a Lightdash: say which
        flag runs it as Omni."""
        known = await lightdash_version(session, url, timeout)
        return None if known else NOT_LIGHTDASH.removeprefix("; ")


def _one_line(err: ApiStatusError | ValidationError) -> str:
    """A pydantic error is several lines; its first problem names the bad projects list."""
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        return f"projects: {first['msg']} at {'.'.join(map(str, first['loc'])) or 'results'}"
    return str(err)
