"""Verify: compare a live instance with a snapshot, per object type and key field.

Everything is compared by natural key (emails, group names, paths, model keys), so it works
across instances whose ids differ. The result is a fidelity table for a DR drill report.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from omnimigrate.omni.client import OmniClient
from omnimigrate.omni.delivery import Delivery, DeliveryShapeError, read_delivery
from omnimigrate.omni.pool import key_stats
from omnimigrate.restore.inventory import TargetInventory, read_inventory
from omnimigrate.restore.source import (
    Grant,
    SourceDocument,
    SourceOrg,
    SourceSchedule,
    label_settings,
    recipient_emails,
    recipient_groups,
)
from omnimigrate.snapshot.manifest import KeyStats

T = TypeVar("T")


@dataclass
class TypeReport:
    checked: int = 0
    matching: int = 0
    differences: list[str] = field(default_factory=list)

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

    @property
    def percent(self) -> float:
        return 100.0 * self.matching / self.checked if self.checked else 100.0


@dataclass
class VerifyReport:
    types: dict[str, TypeReport] = field(default_factory=dict)
    keys: dict[str, KeyStats] = field(default_factory=dict)  # per key fingerprint

    @property
    def ok(self) -> bool:
        return all(t.matching == t.checked for t in self.types.values())


def _short(value: Any) -> str:
    text = repr(sorted(value) if isinstance(value, set) else value)
    return text if len(text) < 120 else text[:117] + "..."


def restorable(source: SourceOrg) -> list[str]:
    """Documents a restore can bring back: live, with an export."""
    return sorted(i for i, d in source.documents.items() if not d.deleted and d.export_blob)


class _Names:
    def __init__(self, inv: TargetInventory) -> None:
        self.users = {v: k for k, v in {**inv.email_only, **inv.users}.items()}
        self.groups = {v: k for k, v in inv.groups.items()}
        self.models = {m.id: m.key for m in inv.models.values()}

    def grant_set(self, entries: Iterable[dict[str, Any]]) -> set[tuple[str, str, str, bool]]:
        """(kind, natural key, role, access boost) of folder permits or access-list entries."""
        out = set()
        for e in entries:
            if e.get("userId") or e.get("type") == "user":
                kind, key = (
                    "user",
                    self.users.get(e.get("userId") or e["id"], e.get("email") or "?"),
                )
            else:
                group = e.get("userGroupId") or e["id"]
                kind, key = "group", self.groups.get(group, e.get("name") or "?")
            out.add((kind, key, e["role"], bool(e.get("accessBoost"))))
        return out


def _grants(grants: list[Grant]) -> set[tuple[str, str, str, bool]]:
    return {(g.principal.kind, g.principal.key, g.role, g.access_boost) for g in grants}


class _Reads:
    """The target's keys: each object's reads go to the next key, several objects at a time,
    so verify with three keys takes about a third of the time with one."""

    def __init__(self, clients: list[OmniClient], concurrency: int) -> None:
        self.clients = clients
        self._gate = asyncio.Semaphore(concurrency * len(clients))
        self._turn = itertools.count()

    async def each(
        self, items: Iterable[T], check: Callable[[T, OmniClient], Awaitable[None]]
    ) -> None:
        async def one(item: T) -> None:
            async with self._gate:
                await check(item, self.clients[next(self._turn) % len(self.clients)])

        await asyncio.gather(*(one(item) for item in items))


async def verify(
    source: SourceOrg,
    clients: list[OmniClient],
    *,
    models: bool = False,
    documents: list[str] | None = None,
    concurrency: int = 4,
) -> VerifyReport:
    inv = await read_inventory(clients)
    names = _Names(inv)
    reads = _Reads(clients, concurrency)
    report = VerifyReport()
    whole = documents is None
    docs = documents if documents is not None else restorable(source)
    if whole:
        _labels(source, inv, report.types.setdefault("labels", TypeReport()))
        await _folders(source, inv, reads, names, report.types.setdefault("folders", TypeReport()))
    await _documents(
        source, docs, inv, reads, names, report.types.setdefault("documents", TypeReport())
    )
    await _schedules(
        source, set(docs), inv, reads, names, report.types.setdefault("schedules", TypeReport())
    )
    if whole and models:
        await _yaml(source, inv, reads, report.types.setdefault("model YAML", TypeReport()))
    if whole:
        await _roles(
            source, inv, reads, names, report.types.setdefault("model roles", TypeReport())
        )
    for t in report.types.values():
        t.differences.sort()  # objects are checked concurrently: report them in order
    report.keys = key_stats(clients)
    return report


def _labels(source: SourceOrg, inv: TargetInventory, t: TypeReport) -> None:
    for name, label in sorted(source.labels.items()):
        t.checked += 1
        t.check_all(name, label_settings(label), inv.labels.get(name.lower()) or {})


async def _folders(
    source: SourceOrg, inv: TargetInventory, reads: _Reads, names: _Names, t: TypeReport
) -> None:
    async def one(path: str, c: OmniClient) -> None:
        folder = source.folders[path]
        t.checked += 1
        target = inv.folders.get(path)
        if target is None:
            t.differences.append(f"{path}: missing")
            return
        permits = names.grant_set(p.dump() for p in await c.folder_permits(target.id))
        want = {
            "name": folder.name,
            "scope": folder.scope,
            "owner": folder.owner,
            "permissions": _grants(folder.grants),
        }
        have = {
            "name": target.name,
            "scope": target.scope,
            "owner": names.users.get(target.owner_id or ""),
            "permissions": permits,
        }
        t.check_all(path, want, have)

    await reads.each(sorted(source.folders), one)


async def _documents(
    source: SourceOrg,
    docs: list[str],
    inv: TargetInventory,
    reads: _Reads,
    names: _Names,
    t: TypeReport,
) -> None:
    async def one(ident: str, c: OmniClient) -> None:
        want = source.documents[ident]
        t.checked += 1
        target = inv.documents.get(ident)
        if target is None:
            t.differences.append(f"{ident}: missing")
            return
        access = [p.dump() async for p in c.access_list(ident, access_source="direct")]
        owner = next((names.users.get(p["id"]) for p in access if p.get("isOwner")), None)
        expected = {
            "name": want.name,
            "description": want.description,
            "scope": want.scope,
            "folder": want.folder_path,
            "labels": sorted(want.labels),
            "permissions": _grants(want.grants),
            "owner": want.owner,
            "model": want.model,
        }
        have = {
            "name": target.name,
            "description": target.description,
            "scope": target.scope,
            "folder": target.folder_path,
            "labels": target.labels,
            "permissions": names.grant_set(p for p in access if not p.get("isOwner")),
            "owner": owner,
            "model": await _model_of(c, ident, names, want),
        }
        t.check_all(ident, expected, have)

    await reads.each(docs, one)


async def _model_of(c: OmniClient, ident: str, names: _Names, want: SourceDocument) -> str | None:
    """Dashboards name their model; Omni's API has no read of a workbook's model."""
    if not want.has_dashboard:
        return want.model
    config = await c.get_document(ident)
    return names.models.get(config.model_id, config.model_id)


async def _schedules(
    source: SourceOrg,
    docs: set[str],
    inv: TargetInventory,
    reads: _Reads,
    names: _Names,
    t: TypeReport,
) -> None:
    """Each schedule's delivery is read from the target exactly as from the source (one
    reading, omni/delivery.py), then compared field by field."""

    async def one(s: SourceSchedule, c: OmniClient) -> None:
        key = s.key
        t.checked += 1
        target = inv.schedules.get(key)
        if target is None:
            t.differences.append(f"{key}: missing")
            return
        detail = (await c.get_schedule(target.id)).dump()
        recipients = (await c.schedule_recipients(target.id)).dump()
        try:
            delivery = read_delivery(target.summary, detail, recipients)
        except DeliveryShapeError as err:
            t.differences.append(f"{key}: unreadable on the target: {err}")
            return
        have = {
            **_delivery_fields(delivery),
            "paused": target.paused,
            "recipients": recipient_emails(recipients),
            "groups": recipient_groups(recipients),
            "owner": names.users.get(target.summary.get("ownerId") or detail.get("ownerId") or ""),
        }
        t.check_all(key, _schedule_fields(s), have)

    chosen = [s for _, s in sorted(source.schedules.items()) if s.identifier in docs]
    await reads.each(chosen, one)


def _schedule_fields(s: SourceSchedule) -> dict[str, Any]:
    fields = _delivery_fields(s.delivery) if s.delivery else {"delivery": s.problem}
    return fields | {
        "paused": s.paused,
        "recipients": s.emails,
        "groups": s.groups,
        "owner": s.owner,
    }


def _delivery_fields(d: Delivery) -> dict[str, Any]:
    """Everything restore writes of a delivery, one entry per setting so each is named."""
    return {
        "destination": d.destination,
        "format": d.format,
        "cadence": d.cron,
        "timezone": d.timezone,
        "slack recipients": d.slack_recipients,
        "alert condition": (d.condition_type, d.condition_query_map_key),
        "filters": d.filter_config,
        **{f"setting {k}": v for k, v in sorted(d.settings.items())},
    }


async def _yaml(source: SourceOrg, inv: TargetInventory, reads: _Reads, t: TypeReport) -> None:
    """The model's own layer, file for file: a file the snapshot lacks is a difference too
    (a copy of a schema view no longer follows the schema's refreshes)."""

    async def one(key: str, c: OmniClient) -> None:
        t.checked += 1
        have = (await c.get_model_yaml(inv.models[key].id, mode="extension")).files
        want = {f"file {name}": text for name, text in (source.models[key].files or {}).items()}
        t.check_all(key, want, {f"file {name}": text for name, text in have.items()})

    await reads.each(
        (
            key
            for key, model in sorted(source.models.items())
            if model.files is not None and not model.git_follower and key in inv.models
        ),
        one,
    )


async def _roles(
    source: SourceOrg, inv: TargetInventory, reads: _Reads, names: _Names, t: TypeReport
) -> None:
    wanted: dict[tuple[str, str], set[tuple[str | None, str]]] = {}
    for r in source.roles:
        wanted.setdefault((r.principal.kind, r.principal.key), set()).add((r.model, r.role))

    async def one(principal: tuple[str, str], c: OmniClient) -> None:
        (kind, key), roles = principal, wanted[principal]
        t.checked += 1
        ids = inv.users if kind == "user" else inv.groups
        if key not in ids:
            t.differences.append(f"{kind} {key}: missing")
            return
        read = c.user_model_roles if kind == "user" else c.group_model_roles
        result = await read(ids[key])
        have = {
            (names.models.get(a.model_id or "", a.model_id), a.role_name)
            for a in result.results
            if (a.from_ or {}).get("type") == kind.upper()
        }
        if t.check(f"{kind} {key}", roles, have, "model roles"):
            t.matching += 1

    await reads.each(sorted(wanted), one)
