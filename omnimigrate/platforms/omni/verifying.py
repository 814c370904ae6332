"""Verify: compare a live Omni instance with a snapshot, per object type and key field.

Everything is compared by natural key (emails, group names, paths, model keys), so it works
across instances whose ids differ. Each handler compares its own type and fills in its rows of
the fidelity table, a DR drill's report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from omnimigrate.engine.restore import ledger_name
from omnimigrate.engine.restore_ledger import RestoreLedger
from omnimigrate.engine.verify import SpreadReads, TypeReport, VerifyReport
from omnimigrate.http.transport import key_stats
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.inventory import read_inventory
from omnimigrate.platforms.omni.options import OmniVerifyOptions
from omnimigrate.platforms.omni.principals import GrantKey
from omnimigrate.platforms.omni.registry import REGISTRY, SnapshotView, TargetInventory
from omnimigrate.platforms.omni.trash import restored_as
from omnimigrate.snapshot.store import Store


def restorable(source: SnapshotView) -> list[str]:
    """Documents a restore can bring back: live, with an export."""
    return sorted(i for i, d in source.documents.items() if not d.deleted and d.export_blob)


class TargetNames:
    """Natural keys of the target's ids: what verify reads back is named as the snapshot is."""

    def __init__(self, inv: TargetInventory) -> None:
        self.users = {v: k for k, v in {**inv.email_only, **inv.users}.items()}
        self.groups = {v: k for k, v in inv.groups.items()}
        self.models = {m.id: m.key for m in inv.models.values()}

    def grant_set(self, entries: Iterable[dict[str, Any]]) -> set[GrantKey]:
        """(kind, natural key, role, access boost) of folder permits or access-list entries."""
        out = set()
        for e in entries:
            if e.get("userId") or e.get("type") == "user":
                kind = "user"
                key = self.users.get(e.get("userId") or e["id"], e.get("email") or "?")
            else:
                group = e.get("userGroupId") or e["id"]
                kind, key = "group", self.groups.get(group, e.get("name") or "?")
            out.add((kind, key, e["role"], bool(e.get("accessBoost"))))
        return out


class VerifyContext:
    """What every handler's verify shares. `whole`: the whole snapshot is compared (not
    `--document`), so org-wide types (labels, folders, roles, YAML) are too."""

    def __init__(
        self,
        source: SnapshotView,
        inv: TargetInventory,
        reads: SpreadReads,
        documents: list[str] | None,
        models: bool,
        aliases: dict[str, str],
    ) -> None:
        self.view = source
        self.inv = inv
        self.reads = reads
        self.names = TargetNames(inv)
        self.whole = documents is None
        self.documents = documents if documents is not None else restorable(source)
        self.models = models
        self.aliases = aliases  # source identifier -> the one a restore brought it back under
        self.pause_schedules = False  # the restore paused every schedule (a DR drill)
        self.result = VerifyReport()
        self.result.notes = [
            f"document {old} is {new} on the target (restored under a new identifier: "
            f"links that use {old} break)"
            for old, new in sorted(aliases.items())
            if old in self.documents
        ]

    def identifier(self, source: str) -> str:
        """Where a snapshot's document is on the target: the restored one, not the trashed."""
        return self.aliases.get(source, source)

    def report(self, title: str) -> TypeReport:
        return self.result.types.setdefault(title, TypeReport())


async def verify(
    source: SnapshotView,
    clients: Sequence[OmniClient],
    options: OmniVerifyOptions | None = None,
    *,
    concurrency: int = 4,
    store: Store | None = None,
) -> VerifyReport:
    """`options`: what to compare and expect (None: everything, as the snapshot has it);
    `store`: where the target's restore ledger is, which names the documents a restore
    brought back under a new identifier (their own in the target's trash)."""
    options = options or OmniVerifyOptions()
    inv = await read_inventory(clients, source)
    aliases = {}
    if store is not None:
        ledger = await asyncio.to_thread(RestoreLedger, store, ledger_name(inv))
        aliases = restored_as(ledger.records, inv)
    reads = SpreadReads(clients, concurrency)
    ctx = VerifyContext(source, inv, reads, options.documents, options.models, aliases)
    ctx.pause_schedules = options.pause_schedules
    for handler in REGISTRY.handlers:
        if handler.verify:
            await handler.verify(ctx)
    for t in ctx.result.types.values():
        t.differences.sort()  # objects are checked concurrently: report them in order
    ctx.result.keys = key_stats(clients)
    return ctx.result
