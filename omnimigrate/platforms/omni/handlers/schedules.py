"""Schedules and alerts, by (dashboard identifier, name): destination, delivery settings,
cadence, recipients (users by email, groups by name), owner and paused state.

A delivery is read in every shape the documents give it (`delivery.py`), by backup, restore
and verify alike. Omni lets only someone who sees a dashboard own a schedule of it, so a
schedule is created after its dashboard's owner and permissions.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.handler import JobTemplate
from omnimigrate.engine.jobs import Job, JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.errors import ApiStatusError, NotFound
from omnimigrate.platforms.omni import api_objects as m
from omnimigrate.platforms.omni.delivery import Delivery, DeliveryShapeError, read_delivery
from omnimigrate.platforms.omni.handler import ActionKind, Handler
from omnimigrate.platforms.omni.handlers import documents
from omnimigrate.platforms.omni.handlers.documents import document_step
from omnimigrate.platforms.omni.handlers.identities import Target as People
from omnimigrate.platforms.omni.handlers.identities import (
    group_ok,
    missing_reason,
    plan_email_only,
    user_ok,
)
from omnimigrate.platforms.omni.principals import Principal
from omnimigrate.platforms.omni.queries import (
    QUERIES_ENTRY,
    DocumentQueries,
    QueryName,
    QueryReads,
)

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
    from omnimigrate.platforms.omni.verifying import VerifyContext

# DIGEST §7.8: what a schedule's destination loses on the way
UNCREATABLE = {"google_sheets": "Google Sheets schedules cannot be created through Omni's API"}
SECRETS = {
    "sftp": "the SFTP password is never exported: re-enter it on the target",
    "s3": "the S3 destination's trust settings are not exported: re-check them on the target",
}
QUERIES_JOB = JobTemplate(QUERIES_ENTRY)
# what read_delivery and verify's owner check read of a list record
SUMMARY_FIELDS = (
    "name", "schedule", "timezone", "format", "destinationType", "slackRecipientType", "ownerId"
)  # fmt: skip


class SourceSchedule(BaseModel):
    key: str  # identifier/name
    identifier: str
    name: str
    owner: str | None = None
    paused: bool = False
    delivery: Delivery | None = None  # None: unreadable, `problem` says why
    problem: str | None = None
    emails: list[str] = Field(default_factory=list)  # users' and email-only recipients
    groups: list[str] = Field(default_factory=list)
    queries: dict[str, QueryName] = Field(default_factory=dict)  # key field -> watched query
    query_warning: str | None = None  # a watched key the snapshot cannot name


class TargetSchedule(BaseModel):
    id: str
    key: str  # identifier/name
    paused: bool
    summary: dict[str, Any] = Field(default_factory=dict)  # the fields a delivery reads


def schedule_key(identifier: str, name: str) -> str:
    return f"{identifier}/{name}"


def recipient_emails(recipients: dict[str, Any]) -> list[str]:
    """Users' and email-only recipients of an email schedule (both specs: `recipients[].email`)."""
    return sorted(
        {
            x["email"].lower()
            for x in recipients.get("recipients") or []
            if isinstance(x, dict) and x.get("email")
        }
    )


def recipient_groups(recipients: dict[str, Any]) -> list[str]:
    """Group recipients of an email schedule, by name."""
    return sorted(g["name"] for g in recipients.get("userGroupRecipients") or [] if g.get("name"))


# ---------------------------------------------------------------------- backup


async def list_schedules(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    return JobResult(
        children=[
            Job(kind="schedule", args={"id": s.id, "summary": json.dumps(s.dump())})
            async for s in client.list_schedules()
        ]
    )


async def read_schedule(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    summary = m.ScheduleSummary.model_validate(json.loads(args["summary"]))

    read: dict[str, Any] = {}

    async def detail() -> dict[str, Any]:
        schedule = await client.get_schedule(summary.id)
        recipients = await client.schedule_recipients(summary.id)
        read.update(summary=summary.dump(), schedule=schedule.dump(), recipients=recipients.dump())
        return read

    key = schedule_key(summary.identifier, summary.name)
    result = await ctx.refusable("schedule", {"id": summary.id, "key": key}, detail)
    if read and _watched_keys(read):  # the queue reads each document once
        result.children.append(QUERIES_JOB.job(summary.identifier, summary.identifier))
    return result


def _watched_keys(raw: dict[str, Any]) -> dict[str, str]:
    """The query keys a stored schedule watches ({} when its delivery is unreadable)."""
    try:
        delivery = read_delivery(raw["summary"], raw["schedule"], raw.get("recipients") or {})
    except DeliveryShapeError:
        return {}
    return delivery.query_keys()


async def read_queries(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    """The queries (name and key) of a document an alert or single-tile schedule watches.
    Optional: a refusal is a warning on the entry, and restore then keeps the keys."""

    async def queries() -> dict[str, Any]:
        return (await client.document_queries(args["id"])).dump()

    return await ctx.refusable(QUERIES_ENTRY, args, queries)


# ---------------------------------------------------------------------- snapshot view


def load(r: SnapshotReader, view: View) -> None:
    for o in r.entries("schedule"):
        raw = r.blob(o)
        if not raw:
            continue
        summary, detail, recipients = raw["summary"], raw["schedule"], raw.get("recipients") or {}
        delivery, problem = None, None
        try:
            delivery = read_delivery(summary, detail, recipients)
        except DeliveryShapeError as err:
            problem = str(err)
        view.schedules[o.key] = SourceSchedule(
            key=o.key,
            identifier=summary["identifier"],
            name=summary["name"],
            owner=r.user(summary.get("ownerId") or detail.get("ownerId")),
            paused=bool(summary.get("disabledAt") or detail.get("disabledAt")),
            delivery=delivery,
            problem=problem,
            emails=recipient_emails(recipients),
            groups=recipient_groups(recipients),
        )
        if delivery and delivery.query_keys():
            _name_queries(r, view.schedules[o.key], delivery.query_keys())


def _name_queries(r: SnapshotReader, s: SourceSchedule, keys: dict[str, str]) -> None:
    """The name of each query the schedule watches, from its document's stored queries;
    a key the snapshot cannot name is restored as it is, and the plan says so."""
    entry = r.entry(QUERIES_ENTRY, s.identifier)
    stored = r.blob(entry)
    if stored is None:
        why = (
            (entry.warnings or ["not readable"])[0]
            if entry
            else "taken before omnimigrate read them"
        )
        s.query_warning = (
            f"the snapshot has no query names of dashboard {s.identifier} ({why}): its query "
            f"keys ({_listed(keys)}) are kept as they are, and point at another query or none "
            "if the import renews them; a new backup reads the names"
        )
        return
    queries = DocumentQueries.read(stored)
    for field, key in keys.items():
        name = queries.name_of(key)
        if name:
            s.queries[field] = name
    unnamed = {f: k for f, k in keys.items() if f not in s.queries}
    if unnamed:
        s.query_warning = (
            f"no query of dashboard {s.identifier} has the key {_listed(unnamed)} in the "
            "snapshot: kept as it is"
        )


def _listed(keys: dict[str, str]) -> str:
    return ", ".join(f"{f} {k!r}" for f, k in sorted(keys.items()))


# ---------------------------------------------------------------------- inventory


async def read_target(client: OmniClient, inv: Target) -> None:
    async for s in client.list_schedules():
        raw = s.dump()
        key = schedule_key(s.identifier, s.name)
        inv.schedules[key] = TargetSchedule(
            id=s.id, key=key, paused=bool(s.disabled_at),
            summary={k: raw[k] for k in SUMMARY_FIELDS if k in raw},
        )  # fmt: skip


# ---------------------------------------------------------------------- plan


def plan(ctx: PlanContext[View, Target]) -> None:
    chosen = {d.identifier for d in ctx.once(documents.selected)}
    for key, s in sorted(ctx.view.schedules.items()):
        if s.identifier in chosen:
            _plan_one(ctx, key, s)


def _plan_one(ctx: PlanContext[View, Target], key: str, s: SourceSchedule) -> None:
    imp = document_step(s.identifier, "import")
    groups = [g for g in s.groups if group_ok(ctx, g)]
    for g in sorted(set(s.groups) - set(groups)):
        ctx.add(Action(id=action_id("schedule", key, "group", g), kind="grant",
                       object=f"{key} -> {g}", op="blocked",
                       reason=missing_reason(Principal(kind="group", key=g))))  # fmt: skip
    people = part(ctx.inv, People)
    externals = [e for e in s.emails if e not in people.users and e not in people.email_only]
    upserts = [plan_email_only(ctx, email) for email in externals]
    action = Action(
        id=action_id("schedule", key), kind="schedule.create", object=key, op="create",
        depends_on=[imp],
        params={"key": key, "delivery": s.delivery.model_dump() if s.delivery else None,
                "identifier": s.identifier, "name": s.name, "owner": s.owner,
                "emails": s.emails, "groups": groups,
                "paused": s.paused or ctx.opt.pause_schedules},
    )  # fmt: skip
    if s.queries:  # only then: the digests of schedules that watch no query stay as they were
        action.params["queries"] = {f: q.model_dump() for f, q in sorted(s.queries.items())}
    # the owner must see the dashboard before Omni lets them own a schedule of it
    access = [document_step(s.identifier, "owner"), document_step(s.identifier, "permissions")]
    parents = [imp, *access, *upserts, *(action_id("group", g) for g in groups)]
    if s.delivery is None:
        ctx.mark(action, "blocked", f"unreadable in the snapshot: {s.problem}")
        return
    destination = s.delivery.destination
    if destination in UNCREATABLE:
        ctx.mark(action, "blocked", UNCREATABLE[destination])
        return
    action.warning = "; ".join(w for w in (SECRETS.get(destination), s.query_warning) if w)
    if s.owner and not user_ok(ctx, s.owner):
        ctx.mark(action, "blocked", missing_reason(Principal(kind="user", key=s.owner)))
        return
    rec = ctx.ledger.get(action.id)
    on_target = schedule_key(ctx.once(documents.aliases).get(s.identifier, s.identifier), s.name)
    trashed = s.identifier in part(ctx.inv, documents.Target).trashed and key in ctx.inv.schedules
    if trashed and ctx.op_of(imp) == "blocked":  # not a conflict: its dashboard stays in the trash
        ctx.mark(action, "blocked", f"blocked by {imp}")
    elif trashed and ctx.reimported([imp]):
        # Omni keeps a deleted dashboard's schedules: a second one would be a duplicate
        moved = action.model_copy(update={"reason": f"still on the trashed dashboard "
                                          f"{s.identifier}: replaced by one on the restored one"})  # fmt: skip
        ctx.decide(moved, parents, op="update")
    elif on_target not in ctx.inv.schedules or ctx.reimported([imp]):
        ctx.decide(action, parents, absent=True)
    elif rec and rec.digest == action.digest:
        done = rec.status == "done"
        reason = "unchanged since the last restore" if done else "created by an interrupted run"
        ctx.add(action.model_copy(update={"op": "skip", "adopt": not done, "reason": reason}))
    elif rec or ctx.opt.on_conflict == "overwrite":
        replace = action.model_copy(update={"reason": "replaces the target's schedule"})
        ctx.decide(replace, parents, op="update")
    else:
        ctx.mark(action, "conflict", "a schedule of that dashboard and name exists")


# ---------------------------------------------------------------------- apply


async def create(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    p = a.params
    delivery = Delivery.model_validate(p["delivery"])
    if delivery.query_keys():
        delivery = delivery.with_query_keys(await _target_keys(ctx, c, a, delivery))
    body = delivery.create_body(ctx.ids.document(p["identifier"]), p["name"])
    if delivery.destination == "email":
        body["recipients"] = [{"email": e} for e in p["emails"]]
    owner = ctx.ids.user(p["owner"]) if p["owner"] else None
    replaced = _target_schedule(ctx, a)
    if a.op == "update" and replaced:
        with contextlib.suppress(NotFound):
            await c.delete_schedule(replaced)
    await ctx.record(a, "started")
    created = await c.create_schedule(body, owner_id=owner)
    if not created.id:
        raise RestoreError(f"Omni created schedule {p['key']} but returned no id")
    await _finish(ctx, c, a, created.id)


async def _finish(ctx: ApplyContext, c: OmniClient, a: Action, schedule_id: str) -> None:
    """What a create does not carry: group recipients and the pause (both idempotent)."""
    p = a.params
    if p["groups"]:
        await c.add_schedule_recipients(
            schedule_id, group_ids=[ctx.ids.groups[g] for g in p["groups"]]
        )
    if p["paused"]:
        await c.pause_schedule(schedule_id)
    ctx.ids.schedules[p["key"]] = schedule_id
    await ctx.record(a, "done", schedule_id)


async def _target_keys(
    ctx: ApplyContext, c: OmniClient, a: Action, delivery: Delivery
) -> dict[str, str]:
    """The target's key of each query the schedule watches: the key of the same-named query
    of the imported document (read once per document), else the import answer's
    `miniUuidMap` where it served one, else (a snapshot without names, planned with a
    warning) the key as it is. A named query the target lacks fails the schedule."""
    p = a.params
    source, target = p["identifier"], ctx.ids.document(p["identifier"])
    renewed = ctx.ids.key_maps.get(source, {})
    named = {f: QueryName.model_validate(q) for f, q in (p.get("queries") or {}).items()}
    watched = delivery.query_keys()
    keys = {f: renewed.get(k, k) for f, k in watched.items() if f not in named}
    if not named:
        return keys
    try:
        queries = await ctx.ids.queries.get(target, c.document_queries)
    except ApiStatusError as err:
        if any(watched[f] not in renewed for f in named):
            raise RestoreError(
                f"schedule {p['key']}: the queries of dashboard {target} are not readable "
                f"({err.status}: {err.detail}), so its query keys cannot be matched by name"
            ) from err
        return keys | {f: renewed[watched[f]] for f in named}
    for field, query in named.items():
        key = queries.key_of(query)
        if key is None:
            raise RestoreError(
                f"schedule {p['key']}: dashboard {target} on the target has no query {query} "
                f"(its {field}): restore the dashboard as it was in the snapshot, or recreate "
                "the schedule by hand"
            )
        keys[field] = key
    return keys


def _target_schedule(ctx: ApplyContext, a: Action) -> str | None:
    """The target's schedule under the snapshot's key (on a trashed dashboard, say), else
    under the dashboard's identifier on the target (restored under a new one)."""
    p = a.params
    moved = schedule_key(ctx.ids.document(p["identifier"]), p["name"])
    return ctx.ids.schedules.get(p["key"]) or ctx.ids.schedules.get(moved)


async def adopt(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    """An interrupted run made it, and may have died before its remaining steps."""
    made = _target_schedule(ctx, a)
    if made is None:
        raise RestoreError(f"schedule {a.params['key']} is no longer on the target: run again")
    await _finish(ctx, c, a, made)


def create_requests(a: Action) -> int:
    """Create, then group recipients and pause when there are any; a replace deletes first."""
    p = a.params
    return 1 + bool(p.get("groups")) + bool(p.get("paused")) + (a.op == "update")


# ---------------------------------------------------------------------- verify


async def verify(ctx: VerifyContext[View, Target]) -> None:
    """Each schedule's delivery is read from the target exactly as from the source (one
    reading, delivery.py), then compared field by field."""
    t = ctx.report("schedules")

    async def one(s: SourceSchedule, c: OmniClient) -> None:
        t.checked += 1
        target = ctx.inv.schedules.get(schedule_key(ctx.identifier(s.identifier), s.name))
        if target is None:
            return t.missing(s.key)
        detail = (await c.get_schedule(target.id)).dump()
        recipients = (await c.schedule_recipients(target.id)).dump()
        try:
            delivery = read_delivery(target.summary, detail, recipients)
        except DeliveryShapeError as err:
            t.differences.append(f"{s.key}: unreadable on the target: {err}")
            return
        watched = await _watched_names(
            s, delivery, lambda: reads.get(ctx.identifier(s.identifier), c.document_queries)
        )
        have = {
            **_delivery_fields(delivery, watched),
            "paused": target.paused,
            "recipients": recipient_emails(recipients),
            "groups": recipient_groups(recipients),
            "owner": ctx.names.users.get(target.summary.get("ownerId") or detail.get("ownerId") or ""),
        }  # fmt: skip
        t.check_all(s.key, _fields(s, paused=s.paused or ctx.pause_schedules), have)

    reads = QueryReads()
    docs = set(ctx.documents)
    chosen = [s for _, s in sorted(ctx.view.schedules.items()) if s.identifier in docs]
    await ctx.reads.each(chosen, one)


def _fields(s: SourceSchedule, paused: bool) -> dict[str, Any]:
    """What the target's schedule must have; `paused` where the restore paused it."""
    if s.delivery is None:
        fields: dict[str, Any] = {"delivery": s.problem}
    else:
        named = {f: str(q) for f, q in s.queries.items()}
        fields = _delivery_fields(s.delivery, named)
    return fields | {"paused": paused, "recipients": s.emails, "groups": s.groups, "owner": s.owner}


async def _watched_names(
    s: SourceSchedule, d: Delivery, read: Callable[[], Awaitable[DocumentQueries]]
) -> dict[str, str]:
    """What the target's schedule watches, as the snapshot names it: the name of the
    target query its key points at (keys are compared as they are where the snapshot has no
    name)."""
    if not s.queries:
        return {}
    try:
        queries = await read()
    except ApiStatusError as err:
        return {f: f"unreadable ({err.status}: {err.detail})" for f in s.queries}
    out = {}
    for field, key in d.query_keys().items():
        if field in s.queries:
            name = queries.name_of(key)
            out[field] = str(name) if name else f"key {key!r}, no query of the dashboard"
    return out


def _delivery_fields(d: Delivery, named: dict[str, str]) -> dict[str, Any]:
    """Everything restore writes of a delivery, one entry per setting so each is named; a
    watched query by its name where `named` has it (an import renews keys), else its key."""
    settings = dict(d.settings)
    if "queryIdentifierMapKey" in named:
        settings["queryIdentifierMapKey"] = named["queryIdentifierMapKey"]
    condition = named.get("conditionQueryMapKey", d.condition_query_map_key)
    return {
        "destination": d.destination,
        "format": d.format,
        "cadence": d.cron,
        "timezone": d.timezone,
        "slack recipients": d.slack_recipients,
        "alert condition": (d.condition_type, condition),
        "filters": d.filter_config,
        **{f"setting {k}": v for k, v in sorted(settings.items())},
    }


class View(BaseModel):
    """This type's part of the snapshot view (`registry.SnapshotView`)."""

    schedules: dict[str, SourceSchedule] = Field(default_factory=dict)


class Target(BaseModel):
    """This type's part of the target inventory (`registry.TargetInventory`); `WRITTEN_BY`:
    the action-id kinds a restore writes each field's keys with."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"schedules": "schedule"}

    schedules: dict[str, TargetSchedule] = Field(default_factory=dict)


HANDLER = Handler(
    name="schedules",
    view=View,
    target=Target,
    ids=("schedule",),  # its action ids' kinds
    jobs={"schedules": list_schedules, "schedule": read_schedule, QUERIES_ENTRY: read_queries},
    roots=("schedules",),
    load=load,
    read_target=(read_target,),
    plan=plan,
    actions={
        "schedule.create": ActionKind(create, requests=create_requests, adopt=adopt, creates=True)
    },
    verify=verify,
)
