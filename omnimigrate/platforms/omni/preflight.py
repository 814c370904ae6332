"""What Omni's pre-flight and `doctor` ask of an instance, and what the answers mean; the
frame around them (the session, each key, the verdict, the other platform's hint) is the
engine's (`engine/preflight.py`).

The pre-flight is one request per key before a run opens anything: is the instance there,
and does it take this key as an organization API key? `GET /api/scim/v2/Users?count=1`
answers all three (SCIM refuses a personal token with 403), so a wrong URL, a wrong token or
the wrong kind of key fails in seconds, with nothing left open. Retries are for an instance
that answered. `doctor` asks `GET /api/v1/labels` (reachable, authenticated, the rate-limit
headers) and the same SCIM read (the key's type).
"""

from __future__ import annotations

import time

import aiohttp

from omnimigrate.engine.preflight import Finding, Probe
from omnimigrate.errors import ApiStatusError, AuthError, TransportError
from omnimigrate.hints import command_line
from omnimigrate.http.identify import lightdash_hint, lightdash_version
from omnimigrate.http.ratelimit import RateLimiter
from omnimigrate.http.transport import Transport

PROBE = "/api/scim/v2/Users"


def _transport(probe: Probe) -> Transport:
    return Transport(
        probe.url,
        probe.token,
        session=probe.session,
        limiter=RateLimiter(probe.rate_limit),
        timeout=probe.timeout,
    )


class OmniChecks:
    async def preflight(self, probe: Probe) -> list[Finding]:
        url, name = probe.url, probe.name
        try:
            await _transport(probe).send("GET", PROBE, params={"count": "1"})
        except TransportError as err:
            doctor = command_line("doctor", source=url, source_token_env=name)
            return [Finding("reachable", False, f"{url} did not answer ({err.message}): check "
                            f"the URL, http or https, and the network (`{doctor}` tells more)",
                            configuration=False, foreign=True)]  # fmt: skip
        except AuthError as err:
            if err.status == 401:
                return [Finding("authenticated", False, f"{url} refused the token in ${name} "
                                f"(401: {err.detail}): put an organization API key of that "
                                "instance in it", foreign=True)]  # fmt: skip
            return [Finding("key type", False, f"the token in ${name} is not an organization "
                            f"API key of {url} (403 on SCIM: {err.detail}): backup and restore "
                            "need one; create it in Omni > Settings > API keys as an "
                            "Organization Admin", foreign=True)]  # fmt: skip
        except ApiStatusError as err:
            return [Finding("reachable", False, f"{url} answered {err.status} ({err.detail}) "
                            "where Omni's API should be: check that the URL is the instance's "
                            "origin, for example https://acme.omniapp.co",
                            configuration=False, foreign=True)]  # fmt: skip
        return [Finding("reachable", True, url)]

    async def diagnose(self, probe: Probe) -> list[Finding]:
        """Reachability, authentication, key type and rate-limit headroom (2 requests)."""
        t, rate_limit = _transport(probe), probe.rate_limit
        start = time.monotonic()
        try:
            reply = await t.send("GET", "/api/v1/labels")
        except TransportError as err:
            return [Finding("reachable", False, str(err), foreign=True)]
        except AuthError as err:
            return [
                Finding("reachable", True, t.base_url),
                Finding("authenticated", False, str(err), foreign=True),
            ]
        except ApiStatusError as err:
            return [Finding("reachable", False, str(err), foreign=True)]
        latency = (time.monotonic() - start) * 1000
        findings = [
            Finding("reachable", True, f"{t.base_url} ({latency:.0f} ms)"),
            Finding("authenticated", True, "token accepted"),
        ]
        try:
            await t.send("GET", PROBE, params={"count": "1"})
            findings.append(Finding("key type", True,
                                    "organization API key: export, import and SCIM allowed"))  # fmt: skip
        except AuthError:
            findings.append(Finding("key type", False, "personal access token: backup and "
                                    "restore need an organization API key (export, import and "
                                    "SCIM refuse personal tokens)", foreign=True))  # fmt: skip
        limit = reply.headers.get("x-ratelimit-limit")
        left = reply.headers.get("x-ratelimit-remaining")
        if limit and left:
            detail = f"{left} of {limit} requests left in the current window; client limit {rate_limit}/min"  # fmt: skip
        else:
            detail = f"Omni sent no rate-limit headers; client limit {rate_limit}/min per key"
        findings.append(Finding("rate limit", True, detail))
        return findings

    async def other_server(
        self, session: aiohttp.ClientSession, url: str, timeout: float
    ) -> str | None:
        """A Lightdash answers its health route without a token: then name --platform."""
        version = await lightdash_version(session, url, timeout)
        return lightdash_hint(version).removeprefix("; ") if version else None
