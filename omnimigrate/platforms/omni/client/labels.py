"""Omni's labels."""

from __future__ import annotations

from typing import Any

from omnimigrate.errors import NotFound
from omnimigrate.http.transport import Reply
from omnimigrate.platforms.omni import api_objects as m
from omnimigrate.platforms.omni.client.base import (
    ClientBase,
    camel,
)


class LabelsEndpoints(ClientBase):
    async def list_labels(self) -> list[m.Label]:
        reply = await self._call("GET", "/api/v1/labels")
        return [m.Label.model_validate(x) for x in reply.body.get("labels", [])]

    async def get_label(self, name: str) -> m.Label:
        return await self._get("/api/v1/labels/{name}", m.Label, path={"name": name})

    async def create_label(
        self,
        name: str,
        *,
        verified: bool = False,
        homepage: bool = False,
        color: str | None = None,
        description: str | None = None,
    ) -> m.Label:
        """POST /labels. Raises Conflict when a label of that name (any case) exists."""
        body = {"name": name, "verified": verified, "homepage": homepage}
        body.update({k: v for k, v in {"color": color, "description": description}.items() if v})

        async def recover() -> Reply | None:
            try:
                label = await self.get_label(name)
            except NotFound:
                return None
            return Reply(201, label.dump(), {})

        return await self._write("POST", "/api/v1/labels", m.Label, json=body, recover=recover)

    async def update_label(self, name: str, **fields: Any) -> m.Label:
        body = {camel(k): v for k, v in fields.items()}
        return await self._write(
            "PUT", "/api/v1/labels/{name}", m.Label, path={"name": name}, json=body
        )
