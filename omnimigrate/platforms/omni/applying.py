"""Restore's writes to an Omni target: what every handler's apply shares (target ids by
natural key, the ledger, the acting user). The engine's apply loop calls the registry's
runner (`phases.make_runner`), which dispatches each action to its handler by kind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, cast

import structlog

from omnimigrate.engine import handler as engine
from omnimigrate.engine.action_ids import key_of
from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.plan import Action
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger, Status
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.planning import OmniPlan
from omnimigrate.platforms.omni.principals import People, Principal
from omnimigrate.platforms.omni.queries import QueryReads
from omnimigrate.snapshot.blobs import BlobStore

ACTING_USER = "meta:acting-user"  # ledger key: the user the restoring key imports as


class HasId(Protocol):
    @property
    def id(self) -> str: ...


class Known(People, Protocol):
    """What the target inventory holds of the objects other types' writes name (the
    identities', folders', models' and schedules' handlers' parts)."""

    @property
    def folders(self) -> Mapping[str, HasId]: ...
    @property
    def connections(self) -> Mapping[str, str]: ...
    @property
    def schedules(self) -> Mapping[str, HasId]: ...


class TargetIds:
    """Target ids by natural key: the inventory's, plus whatever this run creates."""

    def __init__(self, inv: Known) -> None:
        self.users = {**inv.email_only, **inv.users}
        self.groups = dict(inv.groups)
        self.folders = {p: f.id for p, f in inv.folders.items()}
        self.connections = dict(inv.connections)
        self.schedules = {k: s.id for k, s in inv.schedules.items()}
        self.documents: dict[str, str] = {}  # source identifier -> target (after rename)
        self.queries = QueryReads()  # target identifier -> its queries, read when needed
        # source identifier -> old query key -> new, where this run's import answer said
        self.key_maps: dict[str, dict[str, str]] = {}

    def user(self, email: str) -> str:
        if email not in self.users:
            raise RestoreError(f"user {email} is not on the target")
        return self.users[email]

    def principal(self, p: Principal) -> tuple[str, str]:
        if p.kind == "user":
            return "user", self.user(p.key)
        if p.key not in self.groups:
            raise RestoreError(f"group {p.key} is not on the target")
        return "group", self.groups[p.key]

    def document(self, identifier: str) -> str:
        return self.documents.get(identifier, identifier)


class ApplyContext:
    def __init__(
        self,
        plan: OmniPlan,
        blobs: BlobStore,
        ledger: RestoreLedger,
        reset_by_import: Mapping[str, engine.ActionKind[Any, Any]],
    ) -> None:
        """`reset_by_import`: the registry's action kinds whose writes a document's
        re-import resets, by name."""
        self.plan = plan
        self.reset_by_import = reset_by_import
        self.inventory = plan.inventory
        self.blobs = blobs
        self.ledger = ledger
        self.ids = TargetIds(cast(Known, plan.inventory))
        for key, rec in ledger.records.items():
            identifier = key_of(key, "document", "import")
            if identifier and rec.target:
                self.ids.documents[identifier] = rec.target
        acting = ledger.records.get(ACTING_USER)
        self.acting: str | None = acting.target if acting else None
        self._acting_lock = asyncio.Lock()
        self.renames = asyncio.Lock()  # one folder path change at a time (swaps, G7)
        # target identifiers of the documents whose new owner this run's permissions step
        # gave the explicit permit a transfer needs (with the document's other grants)
        self.permitted_owners: set[str] = set()
        self._planned: dict[str, Action] | None = None
        self.log = structlog.get_logger("omnimigrate.restore")

    async def write(self, key: str, record: LedgerRecord) -> None:
        await asyncio.to_thread(self.ledger.write, key, record)

    async def record(self, action: Action, status: Status, target: str | None = None) -> None:
        record = LedgerRecord(status=status, digest=action.digest, target=target)
        await self.write(action.id, record)

    def planned(self, action_id: str) -> Action | None:
        """The plan's action of that id: a step that does part of another's work (a
        document's permissions, its owner's permit) looks up what that one does."""
        if self._planned is None:
            self._planned = {a.id: a for a in self.plan.actions}
        return self._planned.get(action_id)

    def by_role(
        self, grants: list[dict[str, Any]]
    ) -> list[tuple[tuple[str, bool], list[str], list[str]]]:
        """One permit call per (role, access boost): the API grants one role per call."""
        buckets: dict[tuple[str, bool], tuple[list[str], list[str]]] = {}
        for g in grants:
            kind, pid = self.ids.principal(Principal.model_validate(g["principal"]))
            users, groups = buckets.setdefault((g["role"], g["access_boost"]), ([], []))
            (users if kind == "user" else groups).append(pid)
        return [(k, u, g) for k, (u, g) in sorted(buckets.items())]

    async def rewrite_after_import(self, client: OmniClient, identifier: str) -> None:
        """A document this run re-imported in place of an update-model: what an import
        resets (its description, labels, owner, permits, favorites) is written again now, in
        plan order, whatever the plan had decided for it."""
        for action in self.plan.actions:
            kind = self.reset_by_import.get(action.kind)
            if (
                kind is not None
                and action.op != "blocked"
                and action.params.get("identifier") == identifier
            ):
                await kind.apply(self, client, action.model_copy(update={"op": "create"}))

    async def acting_user(self, learn: Callable[[], Awaitable[str | None]]) -> str | None:
        """Imports are owned by the key's user: learn who that is once, from the access list
        of a document nobody has transferred yet, and keep it in the ledger for re-runs."""
        async with self._acting_lock:
            if self.acting is None:
                self.acting = await learn()
                await self.write(
                    ACTING_USER, LedgerRecord(status="done", digest="-", target=self.acting)
                )
        return self.acting
