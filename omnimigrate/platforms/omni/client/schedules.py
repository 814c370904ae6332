"""Omni's schedules and their recipients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from omnimigrate.errors import ApiStatusError
from omnimigrate.http.transport import Reply
from omnimigrate.platforms.omni import api_objects as m
from omnimigrate.platforms.omni.client.base import (
    SCHEDULE,
    ClientBase,
    Ids,
)


class SchedulesEndpoints(ClientBase):
    def list_schedules(self, **filters: Any) -> AsyncIterator[m.ScheduleSummary]:
        """GET /schedules: its cursor is a page number, the walk is the same."""
        return self._cursor("/api/v1/schedules", m.ScheduleSummary, **filters)

    async def get_schedule(self, schedule_id: str) -> m.Schedule:
        return await self._get(SCHEDULE, m.Schedule, path={"scheduleId": schedule_id})

    async def schedule_recipients(self, schedule_id: str) -> m.ScheduleRecipients:
        return await self._get(
            SCHEDULE + "/recipients", m.ScheduleRecipients, path={"scheduleId": schedule_id}
        )

    async def create_schedule(
        self, body: dict[str, Any], *, owner_id: str | None = None
    ) -> m.ScheduleCreated:
        """POST /schedules (as `owner_id`, organization key). After an ambiguous failure a
        schedule with the same dashboard, name, cron and destination is taken as the result."""
        if body.get("testNow"):
            raise ValueError("refusing to create a schedule with testNow: it would send it now")

        async def recover() -> Reply | None:
            async for s in self.list_schedules(identifier=body["identifier"]):
                if (s.name, s.schedule, s.destination_type) == (
                    body["name"],
                    body["schedule"],
                    body["destinationType"],
                ):
                    return Reply(200, {"id": s.id, "message": "recovered"}, {})
            return None

        return await self._write(
            "POST",
            "/api/v1/schedules",
            m.ScheduleCreated,
            params={"userId": owner_id},
            json=body,
            recover=recover,
        )

    async def delete_schedule(self, schedule_id: str) -> m.Success:
        return await self._write("DELETE", SCHEDULE, m.Success, path={"scheduleId": schedule_id})

    async def add_schedule_recipients(
        self,
        schedule_id: str,
        *,
        emails: Ids = (),
        user_ids: Ids = (),
        group_ids: Ids = (),
    ) -> dict[str, Any]:
        given = {"emails": emails, "userIds": user_ids, "userGroupIds": group_ids}
        reply = await self._call(
            "PUT",
            SCHEDULE + "/add-recipients",
            path={"scheduleId": schedule_id},
            json={k: list(v) for k, v in given.items() if v},
        )
        return reply.body

    async def pause_schedule(self, schedule_id: str) -> bool:
        """Pause; False when it was already paused (a benign 400 on re-runs)."""
        try:
            await self._call("PUT", SCHEDULE + "/pause", path={"scheduleId": schedule_id})
        except ApiStatusError as err:
            if err.status == 400 and "already" in err.detail.lower():
                return False
            raise
        return True
