"""Injected faults around a fake's answer: a 429 storm, a slow answer, a 5xx or a dropped
connection before the request is handled (nothing happened), or after it (the change is
made and the answer lost: the case that must never lead to a duplicate)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from omnimigrate.fakes.policies import FaultPlan

Answer = tuple[web.Response | None, str | None]  # (None: drop the connection; the fault drawn)


async def with_faults(
    faults: FaultPlan | None,
    answer: Callable[[], Awaitable[web.Response]],
    server_error: Callable[[int], web.Response],
    too_many: Callable[[float], web.Response],
) -> Answer:
    fault, after = faults.draw() if faults else (None, False)
    if faults and fault == "429":
        return too_many(faults.storm_retry_after), fault
    if faults and fault == "slow":
        await asyncio.sleep(faults.slow_seconds)
    elif fault and not after:
        return (None if fault == "drop" else server_error(int(fault))), fault
    response = await answer()
    if fault and after:
        return (None if fault == "drop" else server_error(int(fault))), f"{fault}+after"
    return response, fault if fault == "slow" else None
