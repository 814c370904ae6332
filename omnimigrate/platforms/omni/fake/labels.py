"""The fake's labels: Omni's behaviour (DIGEST.md) for them, and their routes."""

from __future__ import annotations

from aiohttp import web

from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.base import (
    ApiBase,
    ApiError,
    Route,
    ok,
)


class LabelsApi(ApiBase):
    async def list_labels(self, request: web.Request) -> web.Response:
        labels = sorted(self.state.labels.values(), key=lambda x: x.name.lower())
        return ok({"labels": [self.label_json(x) for x in labels]})

    async def create_label(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["name"].lower() in self.state.labels:
            raise ApiError(409, f"Label {body['name']} already exists")
        if (body.get("verified") or body.get("homepage")) and not self._is_admin(request):
            raise ApiError(403, "Only admins can create verified or homepage labels")
        label = st.Label(
            **{k: body.get(k) for k in ("name", "color", "description")},
            verified=bool(body.get("verified")),
            homepage=bool(body.get("homepage")),
        )
        self.state.labels[label.name.lower()] = label
        return ok(self.label_json(label), status=201)

    async def label(self, request: web.Request) -> web.Response:
        label = self._label(request.match_info["name"])
        if request.method == "GET":
            return ok(self.label_json(label))
        if request.method == "DELETE":
            if self.label_json(label)["usage_count"]:
                raise ApiError(409, f"Label {label.name} is in use")
            del self.state.labels[label.name.lower()]
            return web.Response(status=204)
        body = await request.json()
        if ("verified" in body or "homepage" in body) and not self._is_admin(request):
            raise ApiError(403, "Only admins can change verified or homepage labels")
        for key in ("verified", "homepage", "color", "description"):
            if key in body:
                setattr(label, key, body[key])
        if body.get("name") and body["name"] != label.name:
            del self.state.labels[label.name.lower()]
            label.name = body["name"]
            self.state.labels[label.name.lower()] = label
        return ok(self.label_json(label))

    def label_routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v1/labels", self.list_labels),
            Route("POST", "/api/v1/labels", self.create_label),
            *[Route(m, "/api/v1/labels/{name}", self.label) for m in ("GET", "PUT", "DELETE")],
        ]
