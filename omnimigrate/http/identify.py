"""Which platform a URL serves, for the message when a run was pointed at the other one:
a Lightdash answers `GET /api/v1/health` without a token, `{"status": "ok", "results":
{"version": …}}` (every release; neither of its specs declares it)."""

from __future__ import annotations

import aiohttp


async def lightdash_version(session: aiohttp.ClientSession, url: str, timeout: float) -> str | None:
    """The Lightdash release the URL serves, or None when it is not a Lightdash."""
    try:
        async with session.get(
            url.rstrip("/") + "/api/v1/health", timeout=aiohttp.ClientTimeout(total=timeout)
        ) as reply:
            body = await reply.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    results = body.get("results") if isinstance(body, dict) else None
    version = results.get("version") if isinstance(results, dict) else None
    return str(version) if body.get("status") == "ok" and version else None


def lightdash_hint(version: str) -> str:
    return (
        f"; it is a Lightdash ({version}) server: add --platform lightdash (or `platform: "
        "lightdash` in the config) and put a Lightdash token in $LIGHTDASH_API_KEY"
    )


NOT_LIGHTDASH = (
    "; it does not answer Lightdash's /api/v1/health: if it is an Omni instance, use "
    "--platform omni"
)
