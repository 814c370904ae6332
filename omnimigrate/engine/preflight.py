"""The pre-flight and `doctor`, once for every platform: the frame.

One session from the run's factory; each key probed in turn on it; what each answer means
collected as findings; a run passes when every finding is ok. When a finding that may mean
another platform's server failed, the URL is asked which server it is, once, and the answer
goes into the message (the pre-flight) or its own row (`doctor`).

A platform supplies only its `Checks`: what to ask of its server and what an answer means.
The pre-flight stops at the first failed finding (`InstanceUnusable`, with its message);
`doctor` reports every finding of every key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import aiohttp
from pydantic import SecretStr

from omnimigrate.http.ratelimit import key_fingerprint
from omnimigrate.http.sessions import SessionFactory

# The pre-flight's own pace: one request per key, so a limit no server refuses.
PREFLIGHT_RATE = 60
INSTANCE = "-"  # the key column of a finding about the instance, not one key


class InstanceUnusable(Exception):
    """A pre-flight check found an instance this run cannot use; the message says how to fix
    it. `configuration`: the fix is in the configuration (a token, a key), not the network."""

    def __init__(self, message: str, *, configuration: bool = True) -> None:
        super().__init__(message)
        self.configuration = configuration


@dataclass(frozen=True)
class Finding:
    """What one answer means: a `doctor` row, and a pre-flight's verdict when it failed.
    `configuration`: a failure the configuration fixes (a token, a key), not the network;
    `foreign`: a failure that may mean another platform's server, so the URL is asked;
    `key`: set by the frame, the fingerprint of the key it is of (`INSTANCE`: of none)."""

    name: str
    ok: bool
    detail: str
    configuration: bool = True
    foreign: bool = False
    key: str = ""


@dataclass(frozen=True)
class Probe:
    """One key of an instance to check, on the frame's session. `name`: the environment
    variable the token came from, for the messages; `rate_limit`: the client's (per minute)."""

    session: aiohttp.ClientSession
    url: str
    token: SecretStr
    name: str
    timeout: float
    rate_limit: int

    @property
    def key(self) -> str:
        return key_fingerprint(self.token.get_secret_value())


class Checks(Protocol):
    """A platform's part of the frame: what it asks of its server, and what the answers mean."""

    async def preflight(self, probe: Probe) -> list[Finding]:
        """Before a run opens anything: as few requests as tell whether the instance is there
        and takes the key for the run; the first failed finding stops the run."""
        ...

    async def diagnose(self, probe: Probe) -> list[Finding]:
        """`doctor`'s findings for one key, in the order the table shows them."""
        ...

    async def other_server(
        self, session: aiohttp.ClientSession, url: str, timeout: float
    ) -> str | None:
        """Asked when a foreign finding failed: what the URL serves instead and what to do,
        in a few words (`it is a Lightdash (0.2100.0) server: add --platform lightdash`), or
        None when it is this platform's server after all."""
        ...


def passed(findings: Sequence[Finding]) -> bool:
    return all(f.ok for f in findings)


async def preflight(
    checks: Checks,
    url: str,
    tokens: Sequence[SecretStr],
    names: Sequence[str],
    timeout: float,
    sessions: SessionFactory,
) -> None:
    """One probe per key, before a run opens anything; raises InstanceUnusable at the first
    failed finding, its detail and, when it may be another platform's server, which one."""
    async with sessions() as session:
        for token, name in zip(tokens, names, strict=True):
            probe = Probe(session, url, token, name, timeout, PREFLIGHT_RATE)
            failed = next((f for f in await checks.preflight(probe) if not f.ok), None)
            if failed is None:
                continue
            other = await checks.other_server(session, url, timeout) if failed.foreign else None
            message = failed.detail + (f"; {other}" if other else "")
            raise InstanceUnusable(message, configuration=failed.configuration)


async def diagnose(
    checks: Checks,
    url: str,
    tokens: Sequence[SecretStr],
    names: Sequence[str],
    rate_limit: int,
    timeout: float,
    sessions: SessionFactory,
) -> list[Finding]:
    """Every key's findings, each with its key's fingerprint; when a foreign one failed, a
    last finding (`platform`, of the instance) names the server the URL is, if another's."""
    findings: list[Finding] = []
    async with sessions() as session:
        for token, name in zip(tokens, names, strict=True):
            probe = Probe(session, url, token, name, timeout, rate_limit)
            findings += [replace(f, key=probe.key) for f in await checks.diagnose(probe)]
        if any(f.foreign and not f.ok for f in findings):
            other = await checks.other_server(session, url, timeout)
            if other:
                findings.append(Finding("platform", False, other, key=INSTANCE))
    return findings
