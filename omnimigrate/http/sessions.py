"""The one place HTTP sessions come from. Every client pool, pre-flight, `doctor` and event
sink is handed a `SessionFactory` by whoever started the run (the CLI, the service) and
opens its sessions with it, so a test can hand the whole run another transport (an
in-memory one, as httpx's `MockTransport` is), and nothing talks past it."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

# One pool's keys share its connections: enough for every key's concurrent jobs, few enough
# that a run never holds hundreds of sockets open to one instance.
CONNECTIONS = 64

SessionFactory = Callable[[], aiohttp.ClientSession]


def open_session() -> aiohttp.ClientSession:
    """The real transport: an aiohttp session over TCP, `CONNECTIONS` at most."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONNECTIONS))
