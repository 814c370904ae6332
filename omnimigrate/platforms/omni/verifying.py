"""Verify's context: compare a live Omni instance with a snapshot, per object type and key
field.

Everything is compared by natural key (emails, group names, paths, model keys), so it works
across instances whose ids differ. Each handler compares its own type through the context
here and fills in its rows of the fidelity table, a DR drill's report; `phases.verify` runs
them in registry order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar, cast

from omnimigrate.engine.verify import SpreadReads, TypeReport, VerifyReport
from omnimigrate.platforms.omni.principals import GrantKey, People

ViewT = TypeVar("ViewT")  # the handler's part of the snapshot view (the whole, composed)
InventoryT = TypeVar("InventoryT")  # its part of the target inventory


class Model(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def key(self) -> str: ...


class Named(People, Protocol):
    """What the target inventory holds of the principals and models verify names (the
    identities' and models' handlers' parts)."""

    @property
    def models(self) -> Mapping[str, Model]: ...


class TargetNames:
    """Natural keys of the target's ids: what verify reads back is named as the snapshot is."""

    def __init__(self, inv: Named) -> None:
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


class VerifyContext(Generic[ViewT, InventoryT]):
    """What every handler's verify shares. `whole`: the whole snapshot is compared (not
    `--document`), so org-wide types (labels, folders, roles, YAML) are too; `documents`:
    the ones compared (`--document`'s, else every restorable one)."""

    def __init__(
        self,
        source: ViewT,
        inv: InventoryT,
        reads: SpreadReads,
        documents: list[str],
        *,
        whole: bool,
        models: bool,
        aliases: dict[str, str],
    ) -> None:
        self.view = source
        self.inv = inv
        self.reads = reads
        self.names = TargetNames(cast(Named, inv))  # the registry composes those parts
        self.whole = whole
        self.documents = documents
        # action ids of what the compared objects name (`Handler.verify_references`)
        self.referenced: set[str] = set()
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
