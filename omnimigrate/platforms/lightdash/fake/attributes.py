"""The fake Lightdash's user attributes: the organization's list, create and update, with
values per user and per group (0.1471 holds one value, 1.219 several)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.base import ApiBase, LightdashError, Route, not_found, ok


class AttributesApi(ApiBase):
    def attribute_json(self, a: st.Attribute) -> dict[str, Any]:
        def value(values: list[str]) -> dict[str, Any]:
            # 0.1471 holds one value; 1.219 lists them and mirrors the first in `value`
            return {"value": values[0] if values else "", "values": values}

        return {
            "uuid": a.uuid, "name": a.name, "organizationUuid": self.state.org_uuid,
            "createdAt": a.created_at, **({"description": a.description} if a.description else {}),
            "attributeDefault": a.defaults[0] if a.defaults else None,
            "attributeDefaults": a.defaults or None,
            "users": [{"userUuid": u, "email": self.state.users[u].email, **value(v)}
                      for u, v in a.users.items()],
            "groups": [{"groupUuid": g, **value(v)} for g, v in a.groups.items()],
        }  # fmt: skip

    def attribute_values(self, rows: list[dict[str, Any]], key: str) -> dict[str, list[str]]:
        out = {}
        for row in rows:
            if key == "userUuid" and row[key] not in self.state.users:
                # as the real 1.219 did: an unknown user is a database error
                raise LightdashError(500, "UnexpectedServerError", "foreign key violation")
            values = row.get("values") if self.modern and "values" in row else None
            out[row[key]] = list(values) if values is not None else [row["value"]]
        return out

    def fill_attribute(self, a: st.Attribute, body: dict[str, Any]) -> None:
        a.name, a.description = body["name"], body.get("description")
        many = body.get("attributeDefaults") if self.modern else None
        one = body.get("attributeDefault")
        a.defaults = list(many) if many else ([one] if isinstance(one, str) else list(one or []))
        a.users = self.attribute_values(body.get("users", []), "userUuid")
        a.groups = self.attribute_values(body.get("groups", []), "groupUuid")

    async def list_attributes(self, request: web.Request) -> web.Response:
        return ok([self.attribute_json(a) for a in self.state.attributes.values()])

    async def create_attribute(self, request: web.Request) -> web.Response:
        body = await request.json()
        if any(a.name == body["name"] for a in self.state.attributes.values()):
            raise LightdashError(500, "UnexpectedServerError", "duplicate key value")  # as 1.219
        a = st.Attribute(st.new_uuid(), body["name"], created_at=self.state.now())
        self.fill_attribute(a, body)
        self.state.attributes[a.uuid] = a
        # the real 1.219 answered 201 (its spec documents 200)
        return ok(self.attribute_json(a), status=201 if self.modern else 200)

    async def update_attribute(self, request: web.Request) -> web.Response:
        a = self.state.attributes.get(request.match_info["userAttributeUuid"])
        if a is None:
            raise not_found("User attribute")
        self.fill_attribute(a, await request.json())
        return ok(self.attribute_json(a))

    def attribute_routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v1/org/attributes", self.list_attributes),
            Route("POST", "/api/v1/org/attributes", self.create_attribute),
            Route("PUT", "/api/v1/org/attributes/{userAttributeUuid}", self.update_attribute),
        ]
