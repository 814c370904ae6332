"""The fake's schedules, their recipients and delivery settings: Omni's behaviour (DIGEST.md) for them, and their routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.base import (
    FORMAT_OPTIONS,
    SCHEDULE_CORE,
    ApiBase,
    ApiError,
    Route,
    extend,
    ok,
)


class SchedulesApi(ApiBase):
    def schedule_summary(self, s: st.Schedule) -> dict[str, Any]:
        doc = self.state.document(s.identifier)
        owner = self.state.users.get(s.owner_id)
        alert = s.options.get("conditionType")
        out = {
            "id": s.id,
            "name": s.name,
            "identifier": s.identifier,
            "schedule": s.schedule,
            "timezone": s.timezone,
            "format": s.format,
            "destinationType": s.destination_type,
            "disabledAt": s.disabled_at,
            "ownerId": s.owner_id,
            "ownerName": owner.display_name if owner else "",
            "recipientCount": len(s.emails) + len(s.user_ids) + len(s.group_ids),
            "content": "dashboard",
            "dashboardName": doc.name if doc else "",
            "lastCompletedAt": None,
            "lastStatus": None,
            "slackRecipientType": s.options.get("slackRecipientType"),
            "systemDisabledAt": None,
            "systemDisabledReason": None,
        }
        if alert:
            out["alert"] = {
                "conditionType": alert,
                "conditionQueryName": s.options.get("conditionQueryMapKey", ""),
            }
        return out

    async def list_schedules(self, request: web.Request) -> web.Response:
        q = request.query
        size = int(float(q.get("pageSize", 20)))
        if size > 100:
            raise ApiError(400, "Page size cannot exceed 100")
        items = sorted(
            (
                s
                for s in self.state.schedules.values()
                if (not q.get("identifier") or s.identifier == q["identifier"])
                and (not q.get("ownerId") or s.owner_id == q["ownerId"])
                and (not q.get("destination") or s.destination_type == q["destination"])
                and (not q.get("q") or q["q"].lower() in s.name.lower())
            ),
            key=lambda s: (s.name, s.id),
            reverse=q.get("sortDirection", "desc") == "desc",
        )
        try:
            page = int(q.get("cursor", "1"))
        except ValueError as exc:
            raise ApiError(400, "Invalid page number") from exc
        last = max(1, -(-len(items) // size))
        if page < 1 or page > last:
            raise ApiError(400, f"Invalid page number. The last valid page is {last}")
        chunk = items[(page - 1) * size : page * size]
        info = {
            "hasNextPage": page < last,
            "nextCursor": str(page + 1) if page < last else None,
            "pageSize": size,
            "totalRecords": len(items),
        }
        return ok({"pageInfo": info, "records": [self.schedule_summary(s) for s in chunk]})

    def _recipient(self, user: st.User) -> dict[str, Any]:
        return {
            "id": user.id,
            "membershipId": user.id,
            "membership": {"user": {"email": user.email, "name": user.display_name}},
        }

    def _delivery_metadata(self, s: st.Schedule) -> dict[str, Any]:
        """A destination's untyped `metadata`: the official shape names settings as the
        official create body does; the seed shape keeps only what the older spec has no
        other place for (the webhook URL, Slack targets and SFTP server are in its
        recipients answer instead)."""
        o = s.options
        official = {
            "email": ("subject", "textBody"),
            "webhook": ("webhookUrl",),
            "slack": ("slackRecipientType",),
            "sftp": ("address", "port", "username", "path"),
            "s3": ("bucketName", "keyPrefix", "region", "roleArn"),
        }
        seed = {**official, "webhook": (), "slack": (), "sftp": ("path",)}
        names = (seed if self.shape == "seed" else official).get(s.destination_type, ())
        meta = {k: o[k] for k in names if k in o}
        if s.destination_type == "slack" and self.shape == "official":
            meta["recipients"] = o.get("slackRecipients", [])
        return meta

    async def get_schedule(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        doc = self.state.document(s.identifier)
        owner = self.state.users.get(s.owner_id)
        recipients = [
            self._recipient(self.state.users[u]) for u in s.user_ids if u in self.state.users
        ]
        recipients += [self._recipient(u) for e in s.emails if (u := self.state.user_by_email(e))]
        options = {k: s.options[k] for k in FORMAT_OPTIONS if k in s.options}
        return ok(
            {
                "id": s.id,
                "name": s.name,
                "schedule": s.schedule,
                "timezone": s.timezone,
                "entityId": doc.id if doc else "",
                "organizationId": self.state.org_id,
                "ownerId": s.owner_id,
                "owner": {"name": owner.display_name if owner else ""},
                "disabledAt": s.disabled_at,
                "systemDisabledAt": None,
                "systemDisabledReason": None,
                "createdAt": s.created_at,
                "updatedAt": s.updated_at,
                "filterConfig": s.options.get("filterConfig"),
                "metadata": {"type": s.destination_type, "format": s.format, **options},
                "conditionType": s.options.get("conditionType"),
                "conditionQueryMapKey": s.options.get("conditionQueryMapKey"),
                "fanOut": bool(s.options.get("fanOut")),
                "killJobsOnFailure": bool(s.options.get("killJobsOnFailure")),
                "destinations": [
                    {
                        "id": s.id,
                        "format": s.format,
                        "lastCompletedAt": None,
                        "lastStatus": None,
                        "metadata": self._delivery_metadata(s),
                        "recipients": recipients,
                        "userGroupRecipients": [
                            {"id": g, "name": self.state.groups[g].name}
                            for g in s.group_ids
                            if g in self.state.groups
                        ],
                    }
                ],
            }
        )

    def _check_filters(self, doc: st.Document, filter_config: Any) -> None:
        if not isinstance(filter_config, dict) or not filter_config:
            return
        known = set((doc.export.get("dashboard") or {}).get("filterConfig", {}))
        unknown = sorted(set(filter_config) - known)
        if unknown:
            raise ApiError(
                400,
                f"Invalid filter keys found: {', '.join(unknown)}. "
                f"Available dashboard filter keys are: {', '.join(sorted(known))}",
            )

    def _check_query_keys(self, doc: st.Document, body: dict[str, Any]) -> None:
        """A watched query must be one of the dashboard's (DIGEST G11: else 400)."""
        known = {
            q["queryIdentifierMapKey"]
            for q in (doc.export.get("dashboard") or {}).get("queries", [])
        }
        for field in ("conditionQueryMapKey", "queryIdentifierMapKey"):
            key = body.get(field)
            if key not in (None, "") and key not in known:
                raise ApiError(
                    400,
                    f"Invalid {field} {key}: no query of this dashboard has it. "
                    f"Available query keys are: {', '.join(sorted(known))}",
                )

    def _schedule_options(self, body: dict[str, Any], destination: str) -> dict[str, Any]:
        """The create body's settings under one name each; both documents' names accepted."""
        options = {k: v for k, v in body.items() if k not in SCHEDULE_CORE}
        url = options.pop("url", None)
        if url and not options.get("webhookUrl"):
            options["webhookUrl"] = url
        recipients = body.get("recipients")
        if destination == "slack":
            options["slackRecipients"] = (
                [recipients] if isinstance(recipients, str) else list(recipients or [])
            )
        required = {
            "webhook": ("webhookUrl",),
            "slack": ("slackRecipientType", "slackRecipients"),
        }.get(destination, ())
        missing = [k for k in required if not options.get(k)]
        if missing:
            raise ApiError(400, f"{', '.join(missing)} required for {destination} destinations")
        return options

    async def create_schedule(self, request: web.Request) -> web.Response:
        body = await request.json()
        doc = self.state.document(body["identifier"])
        if doc is None or doc.deleted or not doc.has_dashboard:
            raise ApiError(404, f"Dashboard {body['identifier']} not found")
        self._check_filters(doc, body.get("filterConfig"))
        self._check_query_keys(doc, body)
        owner = self._acting_owner(request, request.query.get("userId"))
        if not self.can_view(doc, owner):
            raise ApiError(403, "The schedule owner does not have access to this dashboard")
        destination = body["destinationType"]
        emails = (
            [r["email"] if isinstance(r, dict) else r for r in body.get("recipients", [])]
            if destination == "email"
            else []
        )
        self._check_emails(emails)
        options = self._schedule_options(body, destination)
        stamp = self.now()
        s = st.Schedule(
            identifier=doc.identifier,
            name=body["name"],
            schedule=body["schedule"],
            timezone=body["timezone"],
            format=body["format"],
            destination_type=destination,
            owner_id=owner,
            emails=emails,
            options=options,
            created_at=stamp,
            updated_at=stamp,
        )
        self.state.schedules[s.id] = s
        return ok({"id": s.id, "message": "Schedule created successfully"})

    def _check_emails(self, emails: list[str]) -> None:
        known = {u.email.lower() for u in self.state.users.values()} | {
            e.email.lower() for e in self.state.email_only.values()
        }
        bad = [e for e in emails if e.lower() not in known]
        if bad:
            raise ApiError(
                400, f"Invalid recipient(s): {', '.join(bad)}. Add email-only users first."
            )

    async def schedule(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        if request.method == "GET":
            return await self.get_schedule(request)
        if request.method == "DELETE":
            del self.state.schedules[s.id]
            return ok({"success": True})
        body = await request.json() if request.can_read_body else {}
        for key in ("name", "schedule", "timezone", "format"):
            if key in body:
                setattr(s, key, body[key])
        s.options.update({k: v for k, v in body.items() if k not in SCHEDULE_CORE and k != "url"})
        if body.get("url"):
            s.options["webhookUrl"] = body["url"]
        s.updated_at = self.now()
        return ok({"success": True})

    async def schedule_recipients(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        out: dict[str, Any] = {"type": s.destination_type, "recipients": []}
        if s.destination_type == "email":
            out["recipients"] = self._email_recipients(s)
            out["userGroupRecipients"] = [
                {
                    "id": g,
                    "name": self.state.groups[g].name,
                    "recipients": [
                        {
                            "id": m,
                            "email": self.state.users[m].email,
                            "name": self.state.users[m].display_name,
                        }
                        for m in self.state.groups[g].member_ids
                        if m in self.state.users
                    ],
                }
                for g in s.group_ids
                if g in self.state.groups
            ]
        elif self.shape == "seed":  # the older spec's per-destination shapes
            out |= self._seed_destination(s)
        else:
            out["userGroupRecipients"] = []
        return ok(out)

    def _email_recipients(self, s: st.Schedule) -> list[dict[str, Any]]:
        people = [self.state.users[u] for u in s.user_ids if u in self.state.users]
        recips: list[dict[str, Any]] = [
            {"id": u.id, "email": u.email, "name": u.display_name} for u in people
        ]
        for email in s.emails:
            user = self.state.user_by_email(email)
            eo = next(
                (x for x in self.state.email_only.values() if x.email.lower() == email.lower()),
                None,
            )
            rid = user.id if user else (eo.user_id if eo else st.new_uuid())
            recips.append({"id": rid, "email": email, "name": user.display_name if user else email})
        if self.shape == "seed":
            for r in recips:
                r["emailOnly"] = r["id"] not in self.state.users
        return recips

    def _seed_destination(self, s: st.Schedule) -> dict[str, Any]:
        o = s.options
        if s.destination_type == "webhook":
            return {"url": o.get("webhookUrl")}
        if s.destination_type == "slack":
            kind = o.get("slackRecipientType")
            return {
                "recipients": [
                    {"recipientType": kind, "slackId": x} for x in o.get("slackRecipients", [])
                ]
            }
        if s.destination_type == "sftp":
            return {k: o[k] for k in ("address", "port", "username") if k in o}
        return {}

    async def change_recipients(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        if s.destination_type != "email":
            raise ApiError(400, "Recipients can only be changed on email schedules")
        body = await request.json()
        emails, users, groups = (
            body.get("emails", []),
            body.get("userIds", []),
            body.get("userGroupIds", []),
        )
        for uid in users:
            self._user(uid)
        for gid in groups:
            self._group(gid)
        if request.path.endswith("/add-recipients"):
            self._check_emails(emails)
            added = extend(s.emails, emails, key=str.lower) + extend(s.user_ids, users)
            added_groups = extend(s.group_ids, groups)
            return ok(
                {
                    "success": True,
                    "addedRecipientsCount": added,
                    "addedGroupRecipientsCount": added_groups,
                }
            )
        before = len(s.emails) + len(s.user_ids)
        lower = {e.lower() for e in emails}
        s.emails = [e for e in s.emails if e.lower() not in lower]
        s.user_ids = [u for u in s.user_ids if u not in users]
        group_before = len(s.group_ids)
        s.group_ids = [g for g in s.group_ids if g not in groups]
        return ok(
            {
                "success": True,
                "removedRecipientsCount": before - len(s.emails) - len(s.user_ids),
                "removedGroupRecipientsCount": group_before - len(s.group_ids),
            }
        )

    async def toggle_schedule(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        pause = request.path.endswith("/pause")
        if pause == (s.disabled_at is not None):
            raise ApiError(400, f"Schedule is already {'paused' if pause else 'resumed'}")
        s.disabled_at = self.now() if pause else None
        return ok({"success": True})

    async def schedule_owner(self, request: web.Request) -> web.Response:
        s = self._schedule(request.match_info["scheduleId"])
        user = self._user((await request.json())["userId"])
        if user.id == s.owner_id:
            raise ApiError(400, "User already owns the schedule")
        s.owner_id = user.id
        return ok({"success": True})

    def schedule_routes(self) -> list[Route]:
        sched = "/api/v1/schedules/{scheduleId}"
        return [
            Route("GET", "/api/v1/schedules", self.list_schedules),
            Route("POST", "/api/v1/schedules", self.create_schedule),
            *[Route(m, sched, self.schedule) for m in ("GET", "PUT", "DELETE")],
            Route("GET", sched + "/recipients", self.schedule_recipients),
            Route("PUT", sched + "/add-recipients", self.change_recipients),
            Route("PUT", sched + "/remove-recipients", self.change_recipients),
            Route("PUT", sched + "/pause", self.toggle_schedule),
            Route("PUT", sched + "/resume", self.toggle_schedule),
            Route("PUT", sched + "/transfer-ownership", self.schedule_owner),
        ]
