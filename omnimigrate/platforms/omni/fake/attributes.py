"""The fake's user-attribute definitions: the one read the spec has, every definition at once."""

from __future__ import annotations

from aiohttp import web

from omnimigrate.platforms.omni.fake.base import ApiBase, Route, ok


class AttributesApi(ApiBase):
    async def list_user_attributes(self, request: web.Request) -> web.Response:
        records = [a.model_dump() for a in self.state.user_attributes.values()]
        return ok({"records": [{**r, "id": "" if r["system"] else r["id"]} for r in records]})

    def attribute_routes(self) -> list[Route]:
        return [Route("GET", "/api/v1/user-attributes", self.list_user_attributes)]
