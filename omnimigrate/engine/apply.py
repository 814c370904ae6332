"""The apply loop: runs a Plan's writes in dependency order and contains failures (an action
whose dependency failed is reported as blocked by it; every other action proceeds). What an
action writes is the platform's (`ActionRunner`); the ledger records it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from omnimigrate.engine.plan import Action, Plan
from omnimigrate.engine.platform import ActionRunner
from omnimigrate.engine.protocol import effects_id, intent, is_reconcile
from omnimigrate.engine.restore_ledger import RestoreLedger
from omnimigrate.errors import ApiError
from omnimigrate.http.transport import key_stats
from omnimigrate.snapshot.manifest import KeyStats


class RestoreError(Exception):
    """An action cannot be done as planned; the message says why."""


class RestoreBlocked(RestoreError):
    """An action the target shows, only when it is written, it cannot hold (what the plan
    would have blocked had the target said so when read): reported blocked with the reason,
    not failed, and what depends on it is blocked by it. Raised before anything is written."""


@dataclass
class Outcome:
    status: str  # done, skipped, failed, blocked
    detail: str = ""
    warning: str = ""  # done, but something the snapshot has could not be made so
    # blocked because the target cannot hold it (RestoreBlocked, or blocked by such an action):
    # no later run writes it either, so a reconcile waiting for it need not stay undone
    final: bool = False


@dataclass
class ApplyResult:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    keys: dict[str, KeyStats] = field(default_factory=dict)  # per key fingerprint

    def by_status(self, status: str) -> list[str]:
        return [k for k, v in self.outcomes.items() if v.status == status]

    def warnings(self) -> dict[str, str]:
        return {k: v.warning for k, v in self.outcomes.items() if v.warning}

    @property
    def complete(self) -> bool:
        return not self.by_status("failed") and not self.by_status("blocked")


def plan_fault(actions: list[Action], kinds: frozenset[str] | None = None) -> str | None:
    """What stops the applier running a plan as it stands, if anything: an action listed
    before one it depends on (planners emit them in order), or, given the `kinds` of action
    the platform's runner does, a write of another kind (a plan from another version, or
    edited by hand)."""
    position = {a.id: i for i, a in enumerate(actions)}
    for i, action in enumerate(actions):
        if kinds is not None and (action.writes or action.adopt) and action.kind not in kinds:
            return (
                f"{action.id} is a {action.kind!r} action, which this omnimigrate does not apply "
                "(a plan made by another version, or edited?)"
            )
        late = [d for d in action.depends_on if position.get(d, -1) > i]
        if late:
            return f"the plan lists {action.id} before {late[0]}, which it depends on"
    return None


def check_order(actions: list[Action]) -> None:
    """Each action after every action of the plan it depends on, as planners emit them (a
    saved plan is checked, with its hint, when it is read)."""
    fault = plan_fault(actions)
    if fault:
        raise RestoreError(fault)


class Applier:
    def __init__(
        self,
        plan: Plan[Any, Any],
        clients: Sequence[Any],
        runner: ActionRunner,
        ledger: RestoreLedger,
        *,
        concurrency: int = 4,
        on_progress: Callable[[int, int | None], None] = lambda done, total: None,
    ) -> None:
        self.plan = plan
        self.clients = clients
        self.runner = runner
        self.ledger = ledger
        self._workers = concurrency * len(clients)
        self._turn = 0
        self._owed = [0] * len(clients)  # requests of the actions each key is applying
        self._progress = on_progress
        self._log = structlog.get_logger("omnimigrate.restore")
        self.result = ApplyResult()

    async def run(self) -> ApplyResult:
        """A fixed pool of workers takes the actions in plan order. Every action comes after
        the ones it depends on (checked first), so a worker waiting for a dependency waits
        for one that another worker holds, and memory stays flat however long the plan."""
        actions = {a.id: a for a in self.plan.actions}
        check_order(self.plan.actions)
        # progress counts requests, the rate limit's unit: writes are all that take time
        total = sum(a.requests for a in self.plan.actions if a.writes)
        sent = 0
        waiters: dict[str, asyncio.Event] = {}
        queue = iter(self.plan.actions)  # shared: each action goes to exactly one worker

        async def settled(dep: str) -> None:
            if dep in actions and dep not in self.result.outcomes:
                await waiters.setdefault(dep, asyncio.Event()).wait()

        async def worker() -> None:
            nonlocal sent
            for action in queue:
                for dep in action.depends_on:
                    await settled(dep)
                self.result.outcomes[action.id] = await self._settle(action)
                if event := waiters.pop(action.id, None):
                    event.set()
                sent += action.requests if action.writes else 0
                self._progress(sent, total)

        await asyncio.gather(*(worker() for _ in range(self._workers)))
        await asyncio.to_thread(self.ledger.compact)
        self.result.keys = key_stats(self.clients)
        return self.result

    async def _settle(self, action: Action) -> Outcome:
        for dep in action.depends_on:
            outcome = self.result.outcomes.get(dep)
            if (
                outcome
                and outcome.final
                and is_reconcile(action.id)
                and action.id != effects_id(dep)
            ):
                continue  # as a blocked write the plan leaves out of what a reconcile waits for
            if outcome and outcome.status in ("failed", "blocked"):
                return Outcome(
                    "blocked", f"blocked by {dep} ({outcome.status})", final=outcome.final
                )
        if action.op == "blocked":
            return Outcome("blocked", action.reason)
        if not action.writes and not action.adopt:
            return Outcome("skipped", action.reason)
        # the key owed the fewest requests: round robin by action would hand one key every
        # costly action of a plan whose actions alternate costly and cheap (ties rotate)
        n, cost = len(self.clients), max(action.requests, 1)
        key = min(range(n), key=lambda i: (self._owed[i], (i - self._turn) % n))
        client, self._turn = self.clients[key], self._turn + 1
        self._owed[key] += cost
        try:
            if action.adopt:  # an interrupted run made it: finish it (protocol.py, 2)
                warning = await self.runner.adopt(action, client)
                return Outcome("done", "adopted: " + action.reason, warning or "")
            if action.op == "create" and self.runner.creates(action):  # protocol.py, 1
                await asyncio.to_thread(self.ledger.write, action.id, intent(action))
            warning = await self.runner.apply(action, client)
        except RestoreBlocked as exc:
            self._log.warning("restore.action_blocked", action=action.id, reason=str(exc))
            return Outcome("blocked", str(exc), final=True)
        except (ApiError, RestoreError) as exc:
            self._log.warning("restore.action_failed", action=action.id, error=str(exc))
            return Outcome("failed", str(exc))
        finally:
            self._owed[key] -= cost
        if warning:
            self._log.warning("restore.action_warning", action=action.id, warning=warning)
        return Outcome("done", action.op, warning or "")
