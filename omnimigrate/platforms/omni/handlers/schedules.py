"""Schedules and alerts, by (dashboard identifier, name): destination, delivery settings,
cadence, recipients (users by email, groups by name), owner and paused state.

A delivery is read in every shape the documents give it (`delivery.py`), by backup, restore
and verify alike. Omni lets only someone who sees a dashboard own a schedule of it, so a
schedule is created after its dashboard's owner and permissions.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.jobs import Job, JobResult
from omnimigrate.engine.plan import Action
from omnimigrate.http.errors import OmniNotFound
from omnimigrate.platforms.omni import models as m
from omnimigrate.platforms.omni.action_ids import action_id
from omnimigrate.platforms.omni.delivery import Delivery, DeliveryShapeError, read_delivery
from omnimigrate.platforms.omni.handler import ActionKind, Handler
from omnimigrate.platforms.omni.handlers.documents import document_step
from omnimigrate.platforms.omni.handlers.identities import plan_email_only
from omnimigrate.platforms.omni.principals import Principal

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.inventory import TargetInventory
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader, SnapshotView
    from omnimigrate.platforms.omni.verifying import VerifyContext

# DIGEST §7.8: what a schedule's destination loses on the way
UNCREATABLE = {"google_sheets": "Google Sheets schedules cannot be created through Omni's API"}
SECRETS = {
    "sftp": "the SFTP password is never exported: re-enter it on the target",
    "s3": "the S3 destination's trust settings are not exported: re-check them on the target",
}
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

    async def detail() -> dict[str, Any]:
        schedule = await client.get_schedule(summary.id)
        recipients = await client.schedule_recipients(summary.id)
        return {"summary": summary.dump(), "schedule": schedule.dump(),
                "recipients": recipients.dump()}  # fmt: skip

    key = schedule_key(summary.identifier, summary.name)
    return await ctx.refusable("schedule", {"id": summary.id, "key": key}, detail)


# ---------------------------------------------------------------------- snapshot view


def load(r: SnapshotReader, view: SnapshotView) -> None:
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


# ---------------------------------------------------------------------- inventory


async def read_target(client: OmniClient, inv: TargetInventory) -> None:
    async for s in client.list_schedules():
        raw = s.dump()
        key = schedule_key(s.identifier, s.name)
        inv.schedules[key] = TargetSchedule(
            id=s.id, key=key, paused=bool(s.disabled_at),
            summary={k: raw[k] for k in SUMMARY_FIELDS if k in raw},
        )  # fmt: skip


# ---------------------------------------------------------------------- plan


def plan(ctx: PlanContext) -> None:
    chosen = {d.identifier for d in ctx.docs}
    for key, s in sorted(ctx.src.schedules.items()):
        if s.identifier in chosen:
            _plan_one(ctx, key, s)


def _plan_one(ctx: PlanContext, key: str, s: SourceSchedule) -> None:
    imp = document_step(s.identifier, "import")
    groups = [g for g in s.groups if ctx.group_ok(g)]
    for g in sorted(set(s.groups) - set(groups)):
        ctx.add(Action(id=action_id("schedule", key, "group", g), kind="grant",
                       object=f"{key} -> {g}", op="blocked",
                       reason=ctx.missing_reason(Principal(kind="group", key=g))))  # fmt: skip
    externals = [e for e in s.emails if e not in ctx.inv.users and e not in ctx.inv.email_only]
    upserts = [plan_email_only(ctx, email) for email in externals]
    action = Action(
        id=action_id("schedule", key), kind="schedule.create", object=key, op="create",
        depends_on=[imp],
        params={"key": key, "delivery": s.delivery.model_dump() if s.delivery else None,
                "identifier": s.identifier, "name": s.name, "owner": s.owner,
                "emails": s.emails, "groups": groups,
                "paused": s.paused or ctx.opt.pause_schedules},
    )  # fmt: skip
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
    action.warning = SECRETS.get(destination, "")
    if s.owner and not ctx.user_ok(s.owner):
        ctx.mark(action, "blocked", ctx.missing_reason(Principal(kind="user", key=s.owner)))
        return
    rec = ctx.ledger.get(action.id)
    if key not in ctx.inv.schedules or ctx.reimported([imp]):
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
    body = delivery.create_body(ctx.ids.document(p["identifier"]), p["name"])
    if delivery.destination == "email":
        body["recipients"] = [{"email": e} for e in p["emails"]]
    owner = ctx.ids.user(p["owner"]) if p["owner"] else None
    if a.op == "update" and p["key"] in ctx.ids.schedules:
        with contextlib.suppress(OmniNotFound):
            await c.delete_schedule(ctx.ids.schedules[p["key"]])
    await ctx.record(a, "started")
    created = await c.create_schedule(body, owner_id=owner)
    if not created.id:
        raise RestoreError(f"Omni created schedule {p['key']} but returned no id")
    if p["groups"]:
        await c.add_schedule_recipients(
            created.id, group_ids=[ctx.ids.groups[g] for g in p["groups"]]
        )
    if p["paused"]:
        await c.pause_schedule(created.id)
    ctx.ids.schedules[p["key"]] = created.id
    await ctx.record(a, "done", created.id)


async def adopt(ctx: ApplyContext, _c: OmniClient, a: Action) -> None:
    await ctx.record(a, "done", ctx.ids.schedules.get(a.params["key"]))


def create_requests(a: Action) -> int:
    """Create, then group recipients and pause when there are any; a replace deletes first."""
    p = a.params
    return 1 + bool(p.get("groups")) + bool(p.get("paused")) + (a.op == "update")


# ---------------------------------------------------------------------- verify


async def verify(ctx: VerifyContext) -> None:
    """Each schedule's delivery is read from the target exactly as from the source (one
    reading, delivery.py), then compared field by field."""
    t = ctx.report("schedules")

    async def one(s: SourceSchedule, c: OmniClient) -> None:
        t.checked += 1
        target = ctx.inv.schedules.get(s.key)
        if target is None:
            return t.missing(s.key)
        detail = (await c.get_schedule(target.id)).dump()
        recipients = (await c.schedule_recipients(target.id)).dump()
        try:
            delivery = read_delivery(target.summary, detail, recipients)
        except DeliveryShapeError as err:
            t.differences.append(f"{s.key}: unreadable on the target: {err}")
            return
        have = {
            **_delivery_fields(delivery),
            "paused": target.paused,
            "recipients": recipient_emails(recipients),
            "groups": recipient_groups(recipients),
            "owner": ctx.names.users.get(target.summary.get("ownerId") or detail.get("ownerId") or ""),
        }  # fmt: skip
        t.check_all(s.key, _fields(s), have)

    docs = set(ctx.documents)
    chosen = [s for _, s in sorted(ctx.src.schedules.items()) if s.identifier in docs]
    await ctx.reads.each(chosen, one)


def _fields(s: SourceSchedule) -> dict[str, Any]:
    fields = _delivery_fields(s.delivery) if s.delivery else {"delivery": s.problem}
    return fields | {"paused": s.paused, "recipients": s.emails, "groups": s.groups,
                     "owner": s.owner}  # fmt: skip


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


HANDLER = Handler(
    name="schedules",
    jobs={"schedules": list_schedules, "schedule": read_schedule},
    roots=("schedules",),
    load=load,
    read_target=(read_target,),
    plan=plan,
    actions={
        "schedule.create": ActionKind(create, requests=create_requests, adopt=adopt, creates=True)
    },
    verify=verify,
)
