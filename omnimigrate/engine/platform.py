"""What the engine asks of a platform (Omni, Lightdash, ...): the seam between the two.

The engine runs jobs, checkpoints them, writes snapshots, applies plans with a ledger and
reports verify results; a platform says what its object types are and how each is read,
planned, written and compared. `platform_named` finds one by the name an instance's
configuration, a manifest or a saved plan gives, among those `register`ed: the engine never
imports a platform; `omnimigrate.platforms`, the package every platform lives in, registers
them, so importing any platform (or that package) makes them all known.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from pydantic import SecretStr

from omnimigrate.engine.content import ContentReport
from omnimigrate.engine.jobs import Job, JobResult
from omnimigrate.engine.plan import Action, Inventory, Plan, RestoreOptions
from omnimigrate.engine.preflight import Checks
from omnimigrate.engine.preflight import InstanceUnusable as InstanceUnusable
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.engine.scope import PathFilter
from omnimigrate.engine.verify import VerifyOptions, VerifyReport
from omnimigrate.http.transport import Transport
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest
from omnimigrate.snapshot.store import Store


class UnknownPlatform(Exception):
    """A name no registered platform has."""


class Client(Protocol):
    """One API key's client of an instance."""

    platform: str
    transport: Transport

    @property
    def base_url(self) -> str: ...


class Walker(Protocol):
    """Backup's side of a platform: the listing jobs a run starts with, and each job's work."""

    # read-only to the engine, so a walker may answer them from its context or a constant
    @property
    def blobs(self) -> BlobStore: ...

    @property
    def exports(self) -> int: ...  # content exports requested this run

    @property
    def reused(self) -> int: ...  # exports an incremental run kept from the last snapshot

    @property
    def content_types(self) -> tuple[str, ...]: ...  # the entry types a folder filter selects

    @property
    def job_kinds(self) -> frozenset[str]: ...  # the kinds of job `run` does

    def roots(self) -> list[Job]: ...

    async def run(self, job: Job, client: Any) -> JobResult: ...


class ActionRunner(Protocol):
    """Restore's side: how one action of a plan is written, or adopted and finished after a
    kill (`engine/protocol.py`). Either may answer a warning: written, but not all of it."""

    def creates(self, action: Action) -> bool:
        """Whether the action makes a new object (so the applier writes its intent first)."""
        ...

    async def apply(self, action: Action, client: Any) -> str | None: ...

    async def adopt(self, action: Action, client: Any) -> str | None: ...


class Platform(Protocol):
    name: str
    plan_type: type[Plan[Any, Any]]
    action_kinds: frozenset[str]  # the kinds of action its runner applies

    @property
    def options_type(self) -> type[RestoreOptions]:
        """The restore options it takes: every platform's and its own, and no other (the
        `options` its plan and content check are given are of this type)."""
        ...

    @property
    def verify_options_type(self) -> type[VerifyOptions]:
        """The verify options it takes, as `options_type` for a restore: every platform's and
        its own, and no other (the `options` its verify is given are of this type)."""
        ...

    def checks(self, project: str | None = None) -> Checks:
        """What its pre-flight and `doctor` ask of an instance, and what the answers mean, for
        the engine's frame (`engine/preflight.py`); `project`: the part of the instance a run
        selects, on a platform that has projects (None: all of it)."""
        ...

    def client_pool(
        self, url: str, tokens: list[SecretStr], **limits: Any
    ) -> AbstractAsyncContextManager[list[Any]]:
        """One client per key of an instance (`limits`: rate_limit, period, burst, retry,
        timeout, observer, sessions)."""
        ...

    def explain_order(self) -> list[str]:
        """Its restore order, one line per type with its reason (`plan --explain-order`)."""
        ...

    def walker(self, blobs: BlobStore, scope: PathFilter, previous: Manifest | None) -> Walker: ...

    def snapshot_view(self, manifest: Manifest, blobs: BlobStore) -> Any: ...

    def read_inventory(self, clients: Sequence[Any], view: Any) -> Awaitable[Inventory]:
        """What the target holds; `view`, the snapshot's, says what else is worth a read."""
        ...

    def plan(
        self,
        view: Any,
        inventory: Any,
        ledger: dict[str, LedgerRecord],
        options: Any,
        now: datetime,
    ) -> Plan[Any, Any]: ...

    def runner(
        self, plan: Plan[Any, Any], blobs: BlobStore, ledger: RestoreLedger
    ) -> ActionRunner: ...

    def verify(
        self,
        view: Any,
        clients: Sequence[Any],
        options: Any = None,
        *,
        concurrency: int = 4,
        store: Store | None = None,
    ) -> Awaitable[VerifyReport]:
        """`options`: of its `verify_options_type` (None: its defaults); `concurrency`: reads
        in flight per key; `store`: where the target's restore ledger is, for what a restore
        renamed."""
        ...

    def check_content(
        self, view: Any, clients: Sequence[Any], options: Any
    ) -> Awaitable[ContentReport]:
        """The target's content validator for what a restore of `view` writes, compared with
        the source's answers the snapshot holds (`engine/content.py`)."""
        ...


# name -> how to load it (a platform is imported when it is first asked for)
_PLATFORMS: dict[str, Callable[[], Platform]] = {}


def register(name: str, load: Callable[[], Platform]) -> None:
    _PLATFORMS[name] = load


def platform_names() -> tuple[str, ...]:
    return tuple(_PLATFORMS)


def platform_named(name: str) -> Platform:
    load = _PLATFORMS.get(name)
    if load is None:
        raise UnknownPlatform(
            f"platform {name!r} is not one this omnimigrate knows ({', '.join(_PLATFORMS)}): "
            "upgrade omnimigrate, or correct the name"
        )
    return load()
