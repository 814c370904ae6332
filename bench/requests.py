"""Where a first restore's target requests go: per action kind and per endpoint.

    python bench/requests.py [--documents 300]

An org like the demo's (`restore.demo_like`) is backed up, then restored into its empty
standby (both fakes in this process, the limit off: only the count matters here), and
verified. Printed: the plan's reads and each action kind's requests (with its write actions),
per document, then every endpoint (method and route) by who sent it. `bench/restore.py`
prints the total under the rate limit; this says what it is made of.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from omnimigrate.engine.apply import Applier
from omnimigrate.engine.plan import Action
from omnimigrate.engine.restore import ledger_name, plan_restore
from omnimigrate.engine.restore_ledger import RestoreLedger
from omnimigrate.logging import configure_logging
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.fake.state import OrgState
from omnimigrate.platforms.omni.options import OmniRestoreOptions, OmniVerifyOptions
from omnimigrate.platforms.omni.pool import client_pool

sys.path.insert(0, str(Path(__file__).parent))
from restore import snapshot  # the restore bench's demo-like snapshot

SENDER = contextvars.ContextVar("sender", default="plan")  # the action kind sending


class Tagged:
    """A platform's runner whose requests are counted under their action's kind."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner

    def creates(self, action: Action) -> bool:
        return bool(self._runner.creates(action))

    async def apply(self, action: Action, client: Any) -> str | None:
        return await self._as(action, self._runner.apply(action, client))

    async def adopt(self, action: Action, client: Any) -> str | None:
        return await self._as(action, self._runner.adopt(action, client))

    @staticmethod
    async def _as(action: Action, run: Awaitable[str | None]) -> str | None:
        token = SENDER.set(action.kind)
        try:
            return await run
        finally:
            SENDER.reset(token)


def counting(send: Callable[..., Awaitable[Any]], sent: Counter) -> Callable[..., Awaitable[Any]]:
    async def counted(method: str, route: str, **kw: Any) -> Any:
        sent[(SENDER.get(), method, route)] += 1
        return await send(method, route, **kw)

    return counted


async def first_restore(documents: int, work: Path) -> None:
    snap, state_file = await snapshot(documents, work)
    state = OrgState.load_json(state_file)
    target = FakeOmni(state, FakeSettings(rate_limit=None, validate=False))
    await target.start()
    sent: Counter = Counter()
    token = next(t.token for t in state.tokens.values() if t.kind == "org")
    try:
        async with client_pool(target.url, [token], rate_limit=10**9, period=1) as clients:
            for c in clients:
                c.transport.send = counting(c.transport.send, sent)  # type: ignore[method-assign]
            plan = await plan_restore(snap, clients, OmniRestoreOptions(models=True))
            ledger = RestoreLedger(snap.store, ledger_name(plan.inventory))
            runner = Tagged(snap.platform.runner(plan, snap.blobs, ledger))
            await Applier(plan, clients, runner, ledger, concurrency=8).run()
            SENDER.set("verify")
            report = await snap.platform.verify(
                snap.source, clients, OmniVerifyOptions(models=True), store=snap.store
            )
    finally:
        await target.stop()
    writes = Counter(a.kind for a in plan.actions if a.writes)
    by_kind: Counter = Counter()
    for (kind, _, _), n in sent.items():
        by_kind[kind] += n
    verify = by_kind.pop("verify", 0)
    total = sum(by_kind.values())
    checked = sum(t.checked for t in report.types.values())
    matching = sum(t.matching for t in report.types.values())
    print(
        f"first restore of {documents} documents: {total} requests, "
        f"{total / documents:.2f} per document; verify ({verify} reads, not counted): "
        f"{matching} of {checked} objects match"
    )
    print(f"{'sent by':<24} {'requests':>8} {'per doc':>8} {'writes':>7}")
    for kind, n in by_kind.most_common():
        print(f"{kind:<24} {n:>8} {n / documents:>8.3f} {writes.get(kind, 0):>7}")
    print(f"\n{'requests':>8} {'per doc':>8}  sent by, endpoint")
    for (kind, method, route), n in sorted(sent.items(), key=lambda x: (-x[1], x[0])):
        if kind != "verify":
            print(f"{n:>8} {n / documents:>8.3f}  {kind}: {method} {route}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=300)
    args = parser.parse_args()
    configure_logging(level="error", fmt="json")
    with tempfile.TemporaryDirectory(prefix="omnimigrate-bench-") as tmp:
        asyncio.run(first_restore(args.documents, Path(tmp)))


if __name__ == "__main__":
    main()
