"""Verify's report: per object type, how many objects were checked, how many match, and each
difference by name. Platforms fill it in; comparisons are by natural key, so they hold across
instances whose ids differ."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.snapshot.manifest import KeyStats

T = TypeVar("T")


class VerifyOptions(BaseModel):
    """What a verify is asked beyond the snapshot and the target: every platform's (nothing
    yet). A platform declares its own as a subclass (its `verify_options_type`), and an
    option it does not declare is refused, never ignored, as a restore's are."""

    model_config = ConfigDict(extra="forbid")
    # why it does not take an option another platform's verify does, for the refusal
    WHY_NOT: ClassVar[dict[str, str]] = {}

    @classmethod
    def of_restore(cls, options: RestoreOptions) -> Self:
        """What a verify expects of a target a restore with `options` wrote: the restore's
        options this type takes too, by name (a drill's verify follows its restore)."""
        return cls.model_validate(options.model_dump(include=set(cls.model_fields)))


@dataclass
class TypeReport:
    checked: int = 0
    matching: int = 0
    differences: list[str] = field(default_factory=list)
    # on the target only, which restore leaves there: named, not counted as differences
    extras: list[str] = field(default_factory=list)

    def check(self, key: str, want: Any, have: Any, what: str) -> bool:
        if want == have:
            return True
        self.differences.append(f"{key}: {what} is {_short(have)}, snapshot has {_short(want)}")
        return False

    def check_all(self, key: str, want: dict[str, Any], have: dict[str, Any]) -> None:
        """Every field either side has is compared (so every difference is named); the
        object matches when all do."""
        fields = sorted(want.keys() | have.keys())
        if all([self.check(key, want.get(k), have.get(k), k) for k in fields]):
            self.matching += 1

    def missing(self, key: str) -> None:
        self.differences.append(f"{key}: missing")

    @property
    def percent(self) -> float:
        return 100.0 * self.matching / self.checked if self.checked else 100.0


@dataclass
class VerifyReport:
    types: dict[str, TypeReport] = field(default_factory=dict)
    keys: dict[str, KeyStats] = field(default_factory=dict)  # per key fingerprint
    notes: list[str] = field(default_factory=list)  # what a reader must know of the figures

    @property
    def ok(self) -> bool:
        return all(t.matching == t.checked for t in self.types.values())


def _short(value: Any) -> str:
    text = repr(sorted(value) if isinstance(value, set) else value)
    return text if len(text) < 120 else text[:117] + "..."


class SpreadReads:
    """The target's keys: each object's reads go to the next key, several objects at a time,
    so verify with three keys takes about a third of the time with one."""

    def __init__(self, clients: Sequence[Any], concurrency: int) -> None:
        self.clients = clients
        self._gate = asyncio.Semaphore(concurrency * len(clients))
        self._turn = itertools.count()

    async def each(self, items: Iterable[T], check: Callable[[T, Any], Awaitable[None]]) -> None:
        async def one(item: T) -> None:
            async with self._gate:
                await check(item, self.clients[next(self._turn) % len(self.clients)])

        await asyncio.gather(*(one(item) for item in items))
