"""A restore spreads its requests over the target's keys by what each key is owed, not by
turns: round robin by action hands one key every costly action of a plan whose actions
alternate costly and cheap, and a restore with three keys then takes as long as that key."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from omnimigrate.engine.apply import Applier
from omnimigrate.engine.plan import Action
from omnimigrate.engine.restore_ledger import RestoreLedger
from omnimigrate.snapshot.store import LocalStore


class Runner:
    def __init__(self) -> None:
        self.sent: dict[str, int] = {}

    def creates(self, action: Action) -> bool:
        return False

    async def apply(self, action: Action, client: SimpleNamespace) -> None:
        for _ in range(action.requests):  # a key's requests leave one at a time
            async with client.gate:
                await asyncio.sleep(0.001)
        self.sent[client.name] = self.sent.get(client.name, 0) + action.requests

    async def adopt(self, action: Action, client: SimpleNamespace) -> None:
        raise AssertionError("nothing to adopt")


def key(name: str) -> SimpleNamespace:
    transport = SimpleNamespace(key_id=name, requests=0, throttled=0)
    return SimpleNamespace(name=name, gate=asyncio.Lock(), transport=transport)


async def test_costly_and_cheap_actions_alternating_are_spread_evenly_over_the_keys(tmp_path):
    actions = [
        Action(id=f"x:{i}", kind="x", object=str(i), op="update", requests=5 if i % 3 == 0 else 1)
        for i in range(60)
    ]  # 20 of 5 requests, 40 of 1: round robin gives the first of three keys all 100
    runner, clients = Runner(), [key("a"), key("b"), key("c")]
    ledger = RestoreLedger(LocalStore(tmp_path), "target")
    plan = SimpleNamespace(actions=actions)
    result = await Applier(plan, clients, runner, ledger, concurrency=2).run()  # type: ignore[arg-type]
    assert all(o.status == "done" for o in result.outcomes.values())
    assert sum(runner.sent.values()) == 140
    assert max(runner.sent.values()) <= 56, runner.sent  # within 20 % of a third each
