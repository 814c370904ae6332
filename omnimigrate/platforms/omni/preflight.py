"""One request per key before a run opens anything: is the instance there, and does it take
this key as an organization API key? `GET /api/scim/v2/Users?count=1` answers all three
(SCIM refuses a personal token with 403), so a wrong URL, a wrong token or the wrong kind
of key fails in seconds, with nothing left open. Retries are for an instance that answered.
"""

from __future__ import annotations

from pydantic import SecretStr

from omnimigrate.engine.platform import InstanceUnusable
from omnimigrate.errors import ApiStatusError, AuthError, TransportError
from omnimigrate.hints import command_line
from omnimigrate.http.identify import lightdash_hint, lightdash_version
from omnimigrate.http.ratelimit import RateLimiter
from omnimigrate.http.sessions import SessionFactory
from omnimigrate.http.transport import Transport

PROBE = "/api/scim/v2/Users"


async def preflight(
    url: str,
    tokens: list[SecretStr],
    names: list[str],
    timeout: float,
    sessions: SessionFactory,
) -> None:
    """`names`: the environment variables the tokens came from, for the messages."""
    async with sessions() as session:
        for token, name in zip(tokens, names, strict=True):
            transport = Transport(
                url, token, session=session, limiter=RateLimiter(60), timeout=timeout
            )
            try:
                await _probe(transport, url, name)
            except InstanceUnusable as err:
                version = await lightdash_version(session, url, timeout)
                if version is None:
                    raise
                raise InstanceUnusable(str(err) + lightdash_hint(version)) from None


async def _probe(t: Transport, url: str, name: str) -> None:
    try:
        await t.send("GET", PROBE, params={"count": "1"})
    except TransportError as err:
        raise InstanceUnusable(
            f"{url} did not answer ({err.message}): check the URL, http or https, and the "
            f"network (`{command_line('doctor', source=url, source_token_env=name)}` tells more)",
            configuration=False,
        ) from None
    except AuthError as err:
        if err.status == 401:
            raise InstanceUnusable(
                f"{url} refused the token in ${name} (401: {err.detail}): put an organization "
                "API key of that instance in it"
            ) from None
        raise InstanceUnusable(
            f"the token in ${name} is not an organization API key of {url} (403 on SCIM: "
            f"{err.detail}): backup and restore need one; create it in Omni > Settings > API "
            "keys as an Organization Admin"
        ) from None
    except ApiStatusError as err:
        raise InstanceUnusable(
            f"{url} answered {err.status} ({err.detail}) where Omni's API should be: check "
            "that the URL is the instance's origin, for example https://acme.omniapp.co",
            configuration=False,
        ) from None
